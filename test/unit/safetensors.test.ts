import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { SafetensorsFile } from '../../src/core/safetensors/reader';
import { SafetensorsWriter } from '../../src/core/safetensors/writer';
import { DTYPE_BITS, Dtype } from '../../src/core/safetensors/dtypes';
import { CheckpointError } from '../../src/core/errors';
import { encodeSafetensors, readRefHeader, rng, writeSafetensors } from '../helpers/safetensorsRef';
import { tempDir } from '../helpers/tmp';

const dir = tempDir();

function randomBytes(n: number, seed: number): Uint8Array {
  const r = rng(seed);
  return Uint8Array.from({ length: n }, () => Math.floor(r() * 256));
}

/** One tensor of every dtype of the spec, with shapes whose bit count is whole bytes. */
function everyDtype(): { name: string; dtype: Dtype; shape: number[]; data: Uint8Array }[] {
  return (Object.keys(DTYPE_BITS) as Dtype[]).map((dtype, i) => {
    const shape = [3, 8];
    const bytes = (24 * DTYPE_BITS[dtype]) / 8;
    return { name: `t.${dtype.toLowerCase()}`, dtype, shape, data: randomBytes(bytes, i + 1) };
  });
}

test('reads every dtype of the spec from a reference-encoded file, byte for byte', async () => {
  const tensors = everyDtype();
  const file = path.join(dir, 'all.safetensors');
  writeSafetensors(file, tensors, { format: 'pt', note: 'x' });
  const f = await SafetensorsFile.open(file);
  try {
    assert.deepEqual(f.metadata, { format: 'pt', note: 'x' });
    assert.equal(f.tensors.length, tensors.length);
    for (const t of tensors) {
      const info = f.tensor(t.name);
      assert.equal(info.dtype, t.dtype);
      assert.deepEqual(info.shape, t.shape);
      assert.deepEqual(new Uint8Array(await f.read(t.name)), t.data);
    }
  } finally {
    await f.close();
  }
});

test('writer round-trips every dtype byte-exactly and aligns the data to 8 bytes', async () => {
  const tensors = everyDtype();
  const file = path.join(dir, 'written.safetensors');
  const w = await SafetensorsWriter.create(file, tensors, { format: 'pt' });
  for (const t of tensors) {
    // Split each tensor into two chunks to exercise streaming writes.
    const mid = Math.floor(t.data.length / 2);
    await w.write(t.name, t.data.subarray(0, mid));
    await w.write(t.name, t.data.subarray(mid));
  }
  await w.finish();
  const buf = readFileSync(file);
  const { headerLength, header } = readRefHeader(buf);
  assert.equal((8 + headerLength) % 8, 0, 'data buffer starts 8-byte aligned');
  assert.deepEqual(header.__metadata__, { format: 'pt' });
  // Same tensors in the same order as the reference encoder gives the same data buffer.
  const ref = encodeSafetensors(tensors, { format: 'pt' });
  const refHeader = readRefHeader(ref);
  assert.deepEqual(buf.subarray(8 + headerLength), ref.subarray(8 + refHeader.headerLength));
  const f = await SafetensorsFile.open(file);
  for (const t of tensors) assert.deepEqual(new Uint8Array(await f.read(t.name)), t.data);
  await f.close();
});

test('read → write → read reproduces a file exactly', async () => {
  const src = path.join(dir, 'src.safetensors');
  const tensors = everyDtype();
  writeFileSync(src, encodeSafetensors(tensors, { format: 'pt' }));
  const f = await SafetensorsFile.open(src);
  const out = path.join(dir, 'copy.safetensors');
  const w = await SafetensorsWriter.create(out, f.tensors, f.metadata);
  for (const t of f.tensors) await w.write(t.name, await f.read(t.name));
  await w.finish();
  await f.close();
  assert.deepEqual(readFileSync(out), readFileSync(src));
});

test('reads a byte range of a tensor (row slices)', async () => {
  const data = randomBytes(4 * 6 * 5, 9);
  const file = path.join(dir, 'slice.safetensors');
  writeSafetensors(file, [
    { name: 'a', dtype: 'U8', shape: [1], data: new Uint8Array([7]) },
    { name: 'w', dtype: 'F32', shape: [6, 5], data },
  ]);
  const f = await SafetensorsFile.open(file);
  const info = f.tensor('w');
  const rows = await f.readRange(info, 2 * 20, 4 * 20);
  assert.deepEqual(new Uint8Array(rows), data.subarray(40, 80));
  await assert.rejects(f.readRange(info, 100, 140), /outside the tensor/);
  await f.close();
});

test('zero-element tensors are read and written', async () => {
  const file = path.join(dir, 'empty.safetensors');
  const tensors = [
    { name: 'e', dtype: 'F32' as Dtype, shape: [0, 4], data: new Uint8Array(0) },
    { name: 'x', dtype: 'I32' as Dtype, shape: [2], data: new Uint8Array(8).fill(1) },
  ];
  const w = await SafetensorsWriter.create(file, tensors);
  await w.write('x', tensors[1].data);
  await w.finish();
  const f = await SafetensorsFile.open(file);
  assert.equal((await f.read('e')).length, 0);
  assert.deepEqual(new Uint8Array(await f.read('x')), tensors[1].data);
  await f.close();
});

test('writer refuses wrong sizes, wrong order and incomplete files', async () => {
  const spec = [
    { name: 'a', dtype: 'F32' as Dtype, shape: [2] },
    { name: 'b', dtype: 'F32' as Dtype, shape: [1] },
  ];
  const w = await SafetensorsWriter.create(path.join(dir, 'bad1.safetensors'), spec);
  await assert.rejects(w.write('b', new Uint8Array(4)), /out of order/);
  await assert.rejects(w.write('a', new Uint8Array(12)), /more than the declared 8 bytes/);
  await w.write('a', new Uint8Array(8));
  await assert.rejects(w.finish(), /incomplete: 0 of 4 bytes/);
  assert.throws(
    () => SafetensorsWriter.layout([{ name: 'x', dtype: 'F4', shape: [3] }]),
    /not a whole number of bytes/,
  );
  assert.throws(() => SafetensorsWriter.layout([...spec, spec[0]]), /duplicate tensor name/);
});

/** Writes raw bytes and expects open() to fail with a CheckpointError naming the file and matching `re`. */
async function expectBad(name: string, bytes: Buffer, re: RegExp): Promise<void> {
  const file = path.join(dir, name);
  writeFileSync(file, bytes);
  await assert.rejects(SafetensorsFile.open(file), (e: unknown) => {
    assert.ok(e instanceof CheckpointError, `expected CheckpointError, got ${String(e)}`);
    assert.ok(e.message.includes(file), `message names the file: ${e.message}`);
    assert.match(e.message, re);
    return true;
  });
  assert.deepEqual(readFileSync(file), bytes, 'input left unmodified');
}

function withHeader(json: string | Buffer, data = Buffer.alloc(0), declaredLength?: bigint): Buffer {
  const j = Buffer.from(json);
  const p = Buffer.alloc(8);
  p.writeBigUInt64LE(declaredLength ?? BigInt(j.length));
  return Buffer.concat([p, j, data]);
}

test('hostile and corrupt files get clear errors', async () => {
  const good = encodeSafetensors([{ name: 'w', dtype: 'F32', shape: [4], data: new Uint8Array(16) }]);
  await expectBad('short.safetensors', Buffer.from([1, 2, 3]), /too short/);
  await expectBad(
    'truncated.safetensors',
    good.subarray(0, good.length - 3),
    /past the end of the data buffer|truncated/,
  );
  await expectBad(
    'hugelen.safetensors',
    withHeader('{}', Buffer.alloc(0), 2n ** 40n),
    /exceeds the 100000000-byte limit/,
  );
  await expectBad(
    'pastend.safetensors',
    withHeader('{}', Buffer.alloc(0), 5000n),
    /header length 5000 runs past the end of the file/,
  );
  await expectBad('notjson.safetensors', withHeader('{"a": '), /not valid JSON/);
  await expectBad('notobject.safetensors', withHeader('[1,2]'), /does not start with/);
  await expectBad(
    'dtype.safetensors',
    withHeader('{"w":{"dtype":"F17","shape":[1],"data_offsets":[0,4]}}', Buffer.alloc(4)),
    /tensor 'w': unknown dtype "F17"/,
  );
  await expectBad(
    'shape.safetensors',
    withHeader('{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}', Buffer.alloc(4)),
    /number -1 is not an unsigned integer/,
  );
  await expectBad(
    'bytes.safetensors',
    withHeader('{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}', Buffer.alloc(4)),
    /needs 8 bytes but data_offsets give 4/,
  );
  await expectBad(
    'overlap.safetensors',
    withHeader(
      '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}',
      Buffer.alloc(12),
    ),
    /overlap/,
  );
  await expectBad(
    'hole.safetensors',
    withHeader('{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', Buffer.alloc(8)),
    /belong to no tensor/,
  );
  await expectBad(
    'trailing.safetensors',
    withHeader('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', Buffer.alloc(8)),
    /trailing bytes/,
  );
  await expectBad(
    'reversed.safetensors',
    withHeader('{"a":{"dtype":"F32","shape":[0],"data_offsets":[4,0]}}', Buffer.alloc(4)),
    /reversed/,
  );
  await expectBad(
    'metadata.safetensors',
    withHeader('{"__metadata__":{"k":1}}'),
    /__metadata__ value of 'k' is not a string/,
  );
  await expectBad('utf8.safetensors', withHeader(Buffer.from([0x7b, 0xff, 0xfe, 0x7d])), /not valid UTF-8/);
});

test('a missing file is reported with its path', async () => {
  const file = path.join(dir, 'nope.safetensors');
  await assert.rejects(
    SafetensorsFile.open(file),
    (e: Error) => e.message.includes(file) && /does not exist/.test(e.message),
  );
});
