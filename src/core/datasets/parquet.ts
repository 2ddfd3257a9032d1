import { FileHandle, open } from 'node:fs/promises';
import { AsyncBuffer, FileMetaData, parquetMetadataAsync, parquetReadObjects, parquetSchema, toJson } from 'hyparquet';
import { DatasetError } from './error';

export interface ParquetDataset {
  /** From the footer; no data page is read to know it. */
  rows: number;
  /** Top-level columns (a nested list or struct is one column). */
  columns: string[];
  /** Rows [start, end) as plain JSON values (int64 as number, dates as ISO strings), like parsed JSON Lines. */
  read(start: number, end: number, columns?: string[]): Promise<Record<string, unknown>[]>;
}

/**
 * Opens a Parquet file for `use` and closes it afterwards. Reads go through one file handle at the byte
 * ranges hyparquet asks for: the footer, then only the column chunks of the requested rows.
 */
export async function withParquet<T>(file: string, use: (dataset: ParquetDataset) => Promise<T>): Promise<T> {
  const handle = await open(file, 'r');
  try {
    const buffer = fileBuffer(handle, (await handle.stat()).size);
    let metadata: FileMetaData;
    try {
      metadata = await parquetMetadataAsync(buffer);
    } catch (e) {
      throw new DatasetError(file, `not a readable Parquet file (${(e as Error).message})`);
    }
    return await use({
      rows: Number(metadata.num_rows),
      columns: parquetSchema(metadata).children.map((c) => c.element.name),
      async read(rowStart, rowEnd, columns) {
        try {
          const rows = await parquetReadObjects({ file: buffer, metadata, rowStart, rowEnd, columns });
          return rows.map((r) => toJson(r) as Record<string, unknown>);
        } catch (e) {
          throw new DatasetError(file, `cannot read Parquet rows ${rowStart + 1}–${rowEnd} (${(e as Error).message})`);
        }
      },
    });
  } finally {
    await handle.close();
  }
}

function fileBuffer(handle: FileHandle, size: number): AsyncBuffer {
  return {
    byteLength: size,
    async slice(start, end = size) {
      const bytes = new Uint8Array(end - start);
      for (let done = 0; done < bytes.length;) {
        const { bytesRead } = await handle.read(bytes, done, bytes.length - done, start + done);
        if (bytesRead === 0) throw new Error(`unexpected end of file at byte ${start + done}`);
        done += bytesRead;
      }
      return bytes.buffer;
    },
  };
}
