// TFRecord framing, as TensorFlow and tensorboardX write event files: per record a little-endian u64
// length, the masked CRC-32C of those 8 bytes, the data, and the masked CRC-32C of the data.
import { buf as crc32c } from 'crc-32/crc32c';

const MASK_DELTA = 0xa282ead8;

/** TensorFlow's masked CRC: rotate right by 15 and add a constant, so a CRC of data holding CRCs stays strong. */
export function maskedCrc32c(data: Uint8Array): number {
  const crc = crc32c(data) >>> 0;
  return ((((crc >>> 15) | (crc << 17)) >>> 0) + MASK_DELTA) >>> 0;
}

export interface TfRecords {
  records: Uint8Array[];
  /** Bytes of whole, checked records: where a follow-up read of a growing file starts. */
  end: number;
  /** Why reading stopped before the end of the data (a bad CRC, a cut record); undefined when it read it all. */
  problem?: string;
}

/** Splits a buffer into records; the first damaged or incomplete one ends the read with a note. */
export function readTfRecords(buf: Uint8Array): TfRecords {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const records: Uint8Array[] = [];
  let at = 0;
  while (at < buf.length) {
    if (buf.length - at < 12)
      return {
        records,
        end: at,
        problem: `record at byte ${at} is cut short (${buf.length - at} bytes of its 12-byte header)`,
      };
    const length = Number(view.getBigUint64(at, true));
    if (view.getUint32(at + 8, true) !== maskedCrc32c(buf.subarray(at, at + 8)))
      return { records, end: at, problem: `record at byte ${at}: the length's CRC does not match` };
    const start = at + 12;
    if (buf.length - start < length + 4)
      return {
        records,
        end: at,
        problem: `record at byte ${at} is cut short (${buf.length - start} of ${length + 4} bytes)`,
      };
    const data = buf.subarray(start, start + length);
    if (view.getUint32(start + length, true) !== maskedCrc32c(data))
      return { records, end: at, problem: `record at byte ${at}: the data's CRC does not match` };
    records.push(data);
    at = start + length + 4;
  }
  return { records, end: at };
}

/** Frames records the same way (tests write event files with it). */
export function writeTfRecords(records: Uint8Array[]): Buffer {
  const parts: Buffer[] = [];
  for (const data of records) {
    const head = Buffer.alloc(12);
    head.writeBigUInt64LE(BigInt(data.length), 0);
    head.writeUInt32LE(maskedCrc32c(head.subarray(0, 8)), 8);
    const tail = Buffer.alloc(4);
    tail.writeUInt32LE(maskedCrc32c(data), 0);
    parts.push(head, Buffer.from(data), tail);
  }
  return Buffer.concat(parts);
}
