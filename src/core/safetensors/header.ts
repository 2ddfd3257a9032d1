import { CheckpointError } from '../errors';
import { byteLength, Dtype, isDtype } from './dtypes';
import { scanJson } from '../util/json';

/** The reference implementation's limit; a larger header is refused before it is read. */
export const MAX_HEADER_BYTES = 100_000_000;

export interface TensorInfo {
  name: string;
  dtype: Dtype;
  shape: number[];
  /** Byte range [begin, end) relative to the start of the data buffer. */
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  /** Tensors in buffer order. */
  tensors: TensorInfo[];
  byName: Map<string, TensorInfo>;
  metadata: Record<string, string> | undefined;
  /** Absolute file offset of the data buffer: 8 + header length. */
  dataStart: number;
  /** Size of the data buffer in bytes. */
  dataBytes: number;
}

/**
 * Validates the 8-byte length prefix against the file size and returns the header length.
 * Called before the JSON is read so a hostile length never causes a huge allocation.
 */
export function headerLength(file: string, prefix: Buffer, fileSize: number): number {
  if (fileSize < 8 || prefix.length < 8)
    throw new CheckpointError(file, `file is ${fileSize} bytes, too short for a safetensors header`);
  const n = prefix.readBigUInt64LE(0);
  if (n > BigInt(MAX_HEADER_BYTES))
    throw new CheckpointError(
      file,
      `header length ${n} exceeds the ${MAX_HEADER_BYTES}-byte limit (corrupt or not a safetensors file)`,
    );
  const len = Number(n);
  if (8 + len > fileSize)
    throw new CheckpointError(
      file,
      `header length ${len} runs past the end of the file (${fileSize} bytes): truncated or corrupt`,
    );
  return len;
}

/** Parses and validates a header exactly as the specification requires. */
export function parseHeader(file: string, json: Buffer, fileSize: number): SafetensorsHeader {
  if (json.length === 0 || json[0] !== 0x7b /* { */)
    throw new CheckpointError(file, 'header does not start with "{": not a safetensors file');
  let text: string;
  let raw: unknown;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(json);
  } catch (e) {
    throw new CheckpointError(file, `header is not valid UTF-8 (${(e as Error).message})`);
  }
  checkTokens(file, text);
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new CheckpointError(file, `header is not valid JSON (${(e as Error).message})`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new CheckpointError(file, 'header is not a JSON object');

  const dataStart = 8 + json.length;
  const dataBytes = fileSize - dataStart;
  let metadata: Record<string, string> | undefined;
  const tensors: TensorInfo[] = [];
  for (const [name, value] of Object.entries(raw as Record<string, unknown>)) {
    if (!wellFormed(name))
      throw new CheckpointError(
        file,
        `tensor name ${JSON.stringify(name)} holds a lone UTF-16 surrogate: not valid UTF-8 text`,
      );
    if (name === '__metadata__') {
      metadata = parseMetadata(file, value);
      continue;
    }
    tensors.push(parseEntry(file, name, value, dataBytes));
  }
  tensors.sort((a, b) => a.begin - b.begin || a.end - b.end);
  checkCoverage(file, tensors, dataBytes);
  return { tensors, byName: new Map(tensors.map((t) => [t.name, t])), metadata, dataStart, dataBytes };
}

function parseMetadata(file: string, value: unknown): Record<string, string> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new CheckpointError(file, '__metadata__ is not an object');
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string') throw new CheckpointError(file, `__metadata__ value of '${k}' is not a string`);
    if (!wellFormed(k) || !wellFormed(v))
      throw new CheckpointError(
        file,
        `__metadata__ entry ${JSON.stringify(k)} holds a lone UTF-16 surrogate: not valid UTF-8 text`,
      );
  }
  return value as Record<string, string>;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Text that encodes to UTF-8: JSON's \uD800 escapes can make strings that do not. */
export function wellFormed(s: string): boolean {
  return !LONE_SURROGATE.test(s);
}

/**
 * The header is a map of objects holding strings and lists of unsigned integers, so it nests at most
 * three deep and every number is a plain unsigned integer. JSON.parse would turn `8.0` or `8e0` into 8
 * (the reference parser refuses them), and a deeply nested header is refused here before it is parsed.
 */
function checkTokens(file: string, text: string): void {
  const deep = scanJson(text, 3, (token) => {
    if (!/^(0|[1-9][0-9]*)$/.test(token))
      throw new CheckpointError(
        file,
        `header number ${token} is not an unsigned integer (shape and data_offsets hold unsigned integers only)`,
      );
  });
  if (deep !== undefined)
    throw new CheckpointError(
      file,
      `header nests deeper than the format allows (a map of tensor entries) at character ${deep}`,
    );
}

function isIndex(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function parseEntry(file: string, name: string, value: unknown, dataBytes: number): TensorInfo {
  const fail = (problem: string): never => {
    throw new CheckpointError(file, problem, name);
  };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail('header entry is not an object');
  const { dtype, shape, data_offsets: offsets } = value as Record<string, unknown>;
  if (!isDtype(dtype)) fail(`unknown dtype ${JSON.stringify(dtype)}`);
  if (!Array.isArray(shape) || !shape.every(isIndex))
    fail(`shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isIndex))
    fail(`data_offsets ${JSON.stringify(offsets)} is not a pair of non-negative integers`);
  const [begin, end] = offsets as [number, number];
  if (begin > end) fail(`data_offsets [${begin}, ${end}] are reversed`);
  if (end > dataBytes)
    fail(
      `data_offsets [${begin}, ${end}] run past the end of the data buffer (${dataBytes} bytes): truncated or corrupt`,
    );
  const dims = shape as number[];
  if (!Number.isSafeInteger(dims.reduce((n, d) => n * d, 1)))
    fail(`shape ${JSON.stringify(dims)} has too many elements`);
  const expected = byteLength(dtype as Dtype, dims);
  if (expected === undefined) fail(`shape ${JSON.stringify(dims)} of ${dtype} is not a whole number of bytes`);
  if (expected !== end - begin)
    fail(`${dtype} ${JSON.stringify(dims)} needs ${expected} bytes but data_offsets give ${end - begin}`);
  return { name, dtype: dtype as Dtype, shape: dims, begin, end };
}

/** Tensors must tile the buffer exactly: no holes, no overlaps, nothing trailing. */
function checkCoverage(file: string, sorted: TensorInfo[], dataBytes: number): void {
  let cursor = 0;
  for (const t of sorted) {
    if (t.begin < cursor)
      throw new CheckpointError(file, `bytes ${t.begin}..${t.end} overlap the previous tensor`, t.name);
    if (t.begin > cursor)
      throw new CheckpointError(
        file,
        `bytes ${cursor}..${t.begin} of the data buffer belong to no tensor (a hole, or a duplicate tensor name)`,
      );
    cursor = t.end;
  }
  if (cursor !== dataBytes)
    throw new CheckpointError(file, `data buffer is ${dataBytes} bytes but tensors cover ${cursor}: trailing bytes`);
}

/** Serialises a header: `__metadata__` first, then tensors in the given order, space-padded so data starts 8-aligned. */
export function encodeHeader(tensors: readonly TensorInfo[], metadata?: Record<string, string>): Buffer {
  // Tensor names are data: a plain object would take `__proto__` as its prototype.
  const obj: Record<string, unknown> = Object.create(null);
  if (metadata && Object.keys(metadata).length > 0) obj.__metadata__ = metadata;
  for (const t of tensors) obj[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [t.begin, t.end] };
  const json = Buffer.from(JSON.stringify(obj), 'utf-8');
  const padded = Math.ceil(json.length / 8) * 8;
  const out = Buffer.alloc(8 + padded, 0x20);
  out.writeBigUInt64LE(BigInt(padded), 0);
  json.copy(out, 8);
  return out;
}
