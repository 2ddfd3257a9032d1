import { open, FileHandle } from 'node:fs/promises';
import { CheckpointError } from '../errors';
import { fsError } from '../util/files';
import { byteLength, Dtype } from './dtypes';
import { encodeHeader, TensorInfo } from './header';

export interface TensorSpec {
  name: string;
  dtype: Dtype;
  shape: number[];
}

/**
 * Streams a safetensors file to disk. The header precedes the data, so every tensor's dtype and shape
 * is declared up front; data then arrives tensor by tensor, in declared order, in chunks of any size.
 * Each tensor's byte count is checked, so a wrong-sized write can never produce a corrupt file.
 */
export class SafetensorsWriter {
  private index = 0;
  private written = 0;
  private position: number;

  private constructor(
    readonly path: string,
    private readonly handle: FileHandle,
    readonly tensors: readonly TensorInfo[],
    dataStart: number,
  ) {
    this.position = dataStart;
    this.skipEmpty();
  }

  /** Zero-byte tensors have no data to wait for. */
  private skipEmpty(): void {
    while (this.current && this.current.end === this.current.begin) this.index++;
  }

  static layout(specs: readonly TensorSpec[]): TensorInfo[] {
    const names = new Set<string>();
    let offset = 0;
    return specs.map((s) => {
      if (names.has(s.name)) throw new CheckpointError('(output)', 'duplicate tensor name', s.name);
      if (s.name === '__metadata__') throw new CheckpointError('(output)', 'reserved tensor name', s.name);
      names.add(s.name);
      const n = byteLength(s.dtype, s.shape);
      if (n === undefined)
        throw new CheckpointError(
          '(output)',
          `${s.dtype} ${JSON.stringify(s.shape)} is not a whole number of bytes`,
          s.name,
        );
      const info = { name: s.name, dtype: s.dtype, shape: [...s.shape], begin: offset, end: offset + n };
      offset += n;
      return info;
    });
  }

  static async create(
    path: string,
    specs: readonly TensorSpec[],
    metadata?: Record<string, string>,
  ): Promise<SafetensorsWriter> {
    const tensors = SafetensorsWriter.layout(specs);
    const header = encodeHeader(tensors, metadata);
    const handle = await open(path, 'wx');
    try {
      await writeAll(handle, path, header, 0);
    } catch (e) {
      await handle.close();
      throw e;
    }
    return new SafetensorsWriter(path, handle, tensors, header.length);
  }

  /** The tensor the next bytes belong to, or undefined when all were written. */
  get current(): TensorInfo | undefined {
    return this.tensors[this.index];
  }

  /** Appends bytes of tensor `name`, which must be the current one; returns when they are written. */
  async write(name: string, chunk: Uint8Array): Promise<void> {
    const t = this.current;
    if (!t || t.name !== name)
      throw new CheckpointError(this.path, `written out of order (expected '${t?.name ?? '(none)'}')`, name);
    const size = t.end - t.begin;
    if (this.written + chunk.length > size)
      throw new CheckpointError(this.path, `more than the declared ${size} bytes written`, name);
    await writeAll(this.handle, this.path, chunk, this.position);
    this.position += chunk.length;
    this.written += chunk.length;
    if (this.written === size) {
      this.index++;
      this.written = 0;
      this.skipEmpty();
    }
  }

  /** Checks every declared byte arrived, flushes to disk and closes. */
  async finish(): Promise<void> {
    const t = this.current;
    try {
      if (t)
        throw new CheckpointError(this.path, `incomplete: ${this.written} of ${t.end - t.begin} bytes written`, t.name);
      await this.handle.sync();
    } finally {
      await this.handle.close();
    }
  }

  /** Closes without the completeness check; the caller removes the file. */
  abort(): Promise<void> {
    return this.handle.close().catch(() => undefined);
  }
}

async function writeAll(handle: FileHandle, path: string, data: Uint8Array, position: number): Promise<void> {
  let done = 0;
  try {
    while (done < data.length) {
      const { bytesWritten } = await handle.write(data, done, data.length - done, position + done);
      done += bytesWritten;
    }
  } catch (e) {
    throw fsError(path, e);
  }
}
