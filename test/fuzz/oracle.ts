// An independent checker of the safetensors format, written from the specification and the
// reference parser's rules (huggingface/safetensors, safetensors/src/tensor.rs), sharing no code
// with src/core: its own JSON tokenizer, so number tokens and string escapes are seen as written.
//
// Rules: u64 little-endian header length N <= 100,000,000 with 8 + N <= file size; the header is
// UTF-8 JSON starting with '{'; an object of tensor entries {dtype, shape: [uint...], data_offsets:
// [uint, uint]} and an optional __metadata__ map of string to string; strings may not hold lone
// surrogates (serde_json refuses them); entries tile the data buffer exactly, each holding
// prod(shape) * bits / 8 bytes.

const BITS: Record<string, number> = {
  BOOL: 8,
  F4: 4,
  F6_E2M3: 6,
  F6_E3M2: 6,
  U8: 8,
  I8: 8,
  F8_E5M2: 8,
  F8_E4M3: 8,
  F8_E8M0: 8,
  I16: 16,
  U16: 16,
  F16: 16,
  BF16: 16,
  I32: 32,
  U32: 32,
  F32: 32,
  C64: 64,
  F64: 64,
  I64: 64,
  U64: 64,
};

export interface OracleTensor {
  name: string;
  dtype: string;
  shape: number[];
  begin: number;
  end: number;
}

export type OracleResult = { ok: true; tensors: OracleTensor[]; dataStart: number } | { ok: false; why: string };

type Json =
  | { t: 'obj'; v: [string, Json][] }
  | { t: 'arr'; v: Json[] }
  | { t: 'str'; v: string }
  | { t: 'num'; raw: string }
  | { t: 'lit'; v: boolean | null };

class Bad extends Error {}

/** A strict JSON reader that keeps number tokens as text. Iterative nesting would not matter: depth is limited to 64. */
function parseJson(s: string): Json {
  let i = 0;
  const ws = () => {
    while (i < s.length && ' \t\n\r'.includes(s[i])) i++;
  };
  const value = (depth: number): Json => {
    if (depth > 64) throw new Bad('nesting');
    ws();
    const c = s[i];
    if (c === '{') {
      i++;
      const v: [string, Json][] = [];
      ws();
      if (s[i] === '}') {
        i++;
        return { t: 'obj', v };
      }
      for (;;) {
        ws();
        if (s[i] !== '"') throw new Bad('key');
        const k = str();
        ws();
        if (s[i++] !== ':') throw new Bad('colon');
        v.push([k, value(depth + 1)]);
        ws();
        if (s[i] === ',') i++;
        else if (s[i] === '}') {
          i++;
          return { t: 'obj', v };
        } else throw new Bad('object');
      }
    }
    if (c === '[') {
      i++;
      const v: Json[] = [];
      ws();
      if (s[i] === ']') {
        i++;
        return { t: 'arr', v };
      }
      for (;;) {
        v.push(value(depth + 1));
        ws();
        if (s[i] === ',') i++;
        else if (s[i] === ']') {
          i++;
          return { t: 'arr', v };
        } else throw new Bad('array');
      }
    }
    if (c === '"') return { t: 'str', v: str() };
    for (const [word, v] of [
      ['true', true],
      ['false', false],
      ['null', null],
    ] as const) {
      if (s.startsWith(word, i)) {
        i += word.length;
        return { t: 'lit', v };
      }
    }
    const m = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?/.exec(s.slice(i, i + 400));
    if (!m) throw new Bad('token');
    i += m[0].length;
    return { t: 'num', raw: m[0] };
  };
  const str = (): string => {
    i++; // opening quote
    let out = '';
    for (;;) {
      if (i >= s.length) throw new Bad('unterminated string');
      const c = s.charCodeAt(i);
      if (c === 0x22) {
        i++;
        return out;
      }
      if (c < 0x20) throw new Bad('control character in string');
      if (c !== 0x5c) {
        out += s[i++];
        continue;
      }
      const e = s[i + 1];
      i += 2;
      const simple: Record<string, string> = {
        '"': '"',
        '\\': '\\',
        '/': '/',
        b: '\b',
        f: '\f',
        n: '\n',
        r: '\r',
        t: '\t',
      };
      if (e in simple) {
        out += simple[e];
        continue;
      }
      if (e !== 'u') throw new Bad('escape');
      const hex = (at: number) => {
        const h = s.slice(at, at + 4);
        if (!/^[0-9a-fA-F]{4}$/.test(h)) throw new Bad('\\u escape');
        return parseInt(h, 16);
      };
      const u = hex(i);
      i += 4;
      if (u >= 0xdc00 && u <= 0xdfff) throw new Bad('lone trailing surrogate');
      if (u >= 0xd800 && u <= 0xdbff) {
        if (s[i] !== '\\' || s[i + 1] !== 'u') throw new Bad('lone leading surrogate');
        const lo = hex(i + 2);
        if (lo < 0xdc00 || lo > 0xdfff) throw new Bad('lone leading surrogate');
        i += 6;
        out += String.fromCharCode(u, lo);
      } else out += String.fromCharCode(u);
    }
  };
  const v = value(0);
  ws();
  if (i !== s.length) throw new Bad('trailing characters');
  return v;
}

function uint(j: Json): number {
  if (j.t !== 'num' || !/^(0|[1-9][0-9]*)$/.test(j.raw)) throw new Bad('not an unsigned integer');
  const n = Number(j.raw);
  if (!Number.isSafeInteger(n)) throw new Bad('integer too large');
  return n;
}

/** Checks one safetensors file's bytes. */
export function checkSafetensors(buf: Buffer): OracleResult {
  try {
    if (buf.length < 8) throw new Bad('shorter than the length prefix');
    const n = buf.readBigUInt64LE(0);
    if (n > 100_000_000n) throw new Bad('header too large');
    const len = Number(n);
    if (8 + len > buf.length) throw new Bad('header runs past the end');
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(buf.subarray(8, 8 + len));
    } catch {
      throw new Bad('header not UTF-8');
    }
    if (!text.startsWith('{')) throw new Bad('header does not start with {');
    const root = parseJson(text);
    if (root.t !== 'obj') throw new Bad('header not an object');
    const byName = new Map<string, OracleTensor>();
    const dataBytes = buf.length - 8 - len;
    for (const [name, v] of root.v) {
      if (name === '__metadata__') {
        if (v.t === 'lit' && v.v === null) continue;
        if (v.t !== 'obj' || !v.v.every(([, x]) => x.t === 'str')) throw new Bad('metadata not a string map');
        continue;
      }
      if (v.t !== 'obj') throw new Bad('entry not an object');
      const field = (k: string) => {
        const f = [...v.v].reverse().find(([key]) => key === k);
        if (!f) throw new Bad(`missing ${k}`);
        return f[1];
      };
      const dtype = field('dtype');
      if (dtype.t !== 'str' || !(dtype.v in BITS)) throw new Bad('dtype');
      const shape = field('shape');
      const offsets = field('data_offsets');
      if (shape.t !== 'arr' || offsets.t !== 'arr' || offsets.v.length !== 2) throw new Bad('shape/offsets');
      const dims = shape.v.map(uint);
      const [begin, end] = offsets.v.map(uint);
      if (begin > end || end > dataBytes) throw new Bad('offsets out of range');
      const elements = dims.reduce((a, b) => a * b, 1);
      if (!Number.isSafeInteger(elements)) throw new Bad('too many elements');
      const bits = elements * BITS[dtype.v];
      if (bits % 8 !== 0 || bits / 8 !== end - begin) throw new Bad('size mismatch');
      byName.set(name, { name, dtype: dtype.v, shape: dims, begin, end });
    }
    const tensors = [...byName.values()].sort((a, b) => a.begin - b.begin || a.end - b.end);
    let cursor = 0;
    for (const t of tensors) {
      if (t.begin !== cursor) throw new Bad('hole or overlap');
      cursor = t.end;
    }
    if (cursor !== dataBytes) throw new Bad('trailing bytes');
    return { ok: true, tensors, dataStart: 8 + len };
  } catch (e) {
    if (e instanceof Bad) return { ok: false, why: e.message };
    throw e;
  }
}
