import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rename, rm } from 'node:fs/promises';
import * as path from 'node:path';
import { CheckpointWeights } from '../../../core/checkpoint/weights';
import { CheckpointError } from '../../../core/errors';
import { toFloat32 } from '../../../core/safetensors/convert';
import { Dtype, isFloatDtype } from '../../../core/safetensors/dtypes';
import { SafetensorsWriter } from '../../../core/safetensors/writer';
import { isAlive } from '../../../core/runs/store';

/**
 * Reads the named tensors of a checkpoint as float32, checking each is present with the expected shape.
 * Tensors the checkpoint has beyond these are reported too: loading a model into the wrong architecture
 * must fail loudly, not train on half-initialised weights.
 */
export async function readFloatTensors(
  dir: string,
  shapes: ReadonlyMap<string, readonly number[]>,
  fileName?: string,
): Promise<Map<string, Float32Array>> {
  const weights = await CheckpointWeights.open(dir, fileName);
  try {
    const source: TensorReader = {
      where: (name) => weights.get(name)?.file.path ?? dir,
      names: [...weights.byName.keys()],
      tensor: (name) => weights.get(name)?.info,
      read: (name) => weights.get(name)!.file.read(name),
    };
    return await readTensorsFrom(source, dir, shapes);
  } finally {
    await weights.close();
  }
}

/** Stored tensors by name, from checkpoint files or a virtual merge (core/merge/virtual.ts). */
export interface TensorReader {
  /** Where a tensor comes from, for messages. */
  where(name: string): string;
  names: string[];
  tensor(name: string): { shape: readonly number[]; dtype: Dtype } | undefined;
  read(name: string): Promise<Uint8Array>;
}

/** readFloatTensors' checks over any tensor source: every shape present and right, nothing extra. */
export async function readTensorsFrom(
  source: TensorReader,
  label: string,
  shapes: ReadonlyMap<string, readonly number[]>,
): Promise<Map<string, Float32Array>> {
  const extra = source.names.filter((n) => !shapes.has(n) && !/rotary_emb\.inv_freq$/.test(n));
  if (extra.length)
    throw new CheckpointError(
      source.where(extra[0]),
      `${extra.length} tensor(s) this architecture does not have, e.g. '${extra[0]}'`,
    );
  const out = new Map<string, Float32Array>();
  for (const [name, shape] of shapes) {
    const info = source.tensor(name);
    if (!info) throw new CheckpointError(label, 'missing', name);
    if (info.shape.join() !== shape.join())
      throw new CheckpointError(source.where(name), `shape [${info.shape}] where the config implies [${shape}]`, name);
    if (!isFloatDtype(info.dtype))
      throw new CheckpointError(source.where(name), `dtype ${info.dtype} is not a float type`, name);
    out.set(name, toFloat32(await source.read(name), info.dtype));
  }
  return out;
}

export interface FloatTensorSource {
  name: string;
  shape: number[];
  /** Fetched one at a time while writing, so only one tensor's copy is in memory. */
  values: () => Promise<Float32Array>;
}

/** Writes float32 tensors to a safetensors file, one tensor at a time. */
export async function writeFloatSafetensors(
  file: string,
  tensors: FloatTensorSource[],
  metadata: Record<string, string> = { format: 'pt' },
): Promise<void> {
  const writer = await SafetensorsWriter.create(
    file,
    tensors.map((t) => ({ name: t.name, dtype: 'F32' as const, shape: t.shape })),
    metadata,
  );
  try {
    for (const t of tensors) {
      const values = await t.values();
      await writer.write(t.name, new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
    }
    await writer.finish();
  } catch (e) {
    await writer.abort();
    throw e;
  }
}

/** Builds a folder under a temporary name beside its destination, then renames it into place. */
export async function writeFolderAtomically(dest: string, fill: (tmp: string) => Promise<void>): Promise<void> {
  const tmp = path.join(
    path.dirname(dest),
    `.${path.basename(dest)}.tmp-${process.pid}-${randomBytes(3).toString('hex')}`,
  );
  await removeDeadTemporaries(path.dirname(dest));
  try {
    await mkdir(tmp, { recursive: true });
    await fill(tmp);
    await rm(dest, { recursive: true, force: true });
    await rename(tmp, dest);
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
}

/** Temporaries of saves whose process is gone (killed mid-save), by the pid in their name: removed before the next save. */
async function removeDeadTemporaries(parent: string): Promise<void> {
  for (const name of await readdir(parent).catch(() => [] as string[])) {
    const m = /^\..+\.tmp-(\d+)-[0-9a-f]+$/.exec(name);
    if (m && Number(m[1]) !== process.pid && !isAlive(Number(m[1])))
      await rm(path.join(parent, name), { recursive: true, force: true });
  }
}
