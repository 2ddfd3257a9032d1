import type { FileHandle } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { CheckpointError } from '../errors';
import { fsError, openRegular } from '../util/files';
import { headerLength, parseHeader, SafetensorsHeader, TensorInfo } from './header';

/**
 * A safetensors file opened for streaming: only the header is read on open; tensor bytes are read on
 * demand, whole or by byte range, so a model never has to fit in memory.
 */
export class SafetensorsFile {
  private constructor(
    readonly path: string,
    private readonly handle: FileHandle,
    readonly header: SafetensorsHeader,
    readonly size: number,
    /** sha256 of the 8-byte prefix and header JSON: identifies the file's layout cheaply. */
    readonly headerSha256: string,
  ) {}

  static async open(path: string): Promise<SafetensorsFile> {
    const handle = await openRegular(path);
    try {
      const { size } = await handle.stat();
      const prefix = Buffer.alloc(8);
      if (size >= 8) await readExactly(handle, path, prefix, 0);
      const len = headerLength(path, prefix, size);
      const json = Buffer.alloc(len);
      await readExactly(handle, path, json, 8);
      const header = parseHeader(path, json, size);
      const sha = createHash('sha256').update(prefix).update(json).digest('hex');
      return new SafetensorsFile(path, handle, header, size, sha);
    } catch (e) {
      await handle.close();
      throw fsError(path, e);
    }
  }

  get tensors(): readonly TensorInfo[] {
    return this.header.tensors;
  }

  get metadata(): Record<string, string> | undefined {
    return this.header.metadata;
  }

  tensor(name: string): TensorInfo {
    const t = this.header.byName.get(name);
    if (!t) throw new CheckpointError(this.path, 'no such tensor', name);
    return t;
  }

  /** Reads a whole tensor into a fresh, 8-byte-aligned buffer. */
  read(name: string): Promise<Buffer> {
    const t = this.tensor(name);
    return this.readRange(t, 0, t.end - t.begin);
  }

  /**
   * Reads bytes [from, to) of a tensor's data into `target` (or a fresh aligned buffer).
   * Row slices are byte ranges because the layout is row-major.
   */
  async readRange(t: TensorInfo, from: number, to: number, target?: Buffer): Promise<Buffer> {
    const length = to - from;
    if (from < 0 || to > t.end - t.begin || length < 0)
      throw new CheckpointError(this.path, `byte range ${from}..${to} is outside the tensor`, t.name);
    const buf = target ? target.subarray(0, length) : alignedBuffer(length);
    await readExactly(this.handle, this.path, buf, this.header.dataStart + t.begin + from, t.name);
    return buf;
  }

  close(): Promise<void> {
    return this.handle.close();
  }
}

/** A buffer whose byteOffset is 0, so typed-array views of any element size can be laid over it. */
export function alignedBuffer(length: number): Buffer {
  return Buffer.from(new ArrayBuffer(length));
}

/** Reads exactly buf.length bytes at `position`; a short read means the file shrank or is truncated. */
async function readExactly(
  handle: FileHandle,
  path: string,
  buf: Buffer,
  position: number,
  tensor?: string,
): Promise<void> {
  let done = 0;
  while (done < buf.length) {
    const { bytesRead } = await handle.read(buf, done, buf.length - done, position + done);
    if (bytesRead === 0)
      throw new CheckpointError(path, `unexpected end of file at byte ${position + done}: truncated`, tensor);
    done += bytesRead;
  }
}
