import { access } from 'node:fs/promises';
import * as path from 'node:path';
import { CheckpointError } from '../errors';
import { SafetensorsFile } from '../safetensors/reader';
import { TensorInfo } from '../safetensors/header';
import { readJsonObject } from '../util/json';
import { resolveInside } from '../util/paths';
import { checkRealInside } from '../util/files';

export const MODEL_FILE = 'model.safetensors';
export const INDEX_FILE = 'model.safetensors.index.json';
export const ADAPTER_FILE = 'adapter_model.safetensors';

/** A tensor of a checkpoint and the file that holds it. */
export interface WeightRef {
  info: TensorInfo;
  file: SafetensorsFile;
}

/** A JSON file of a checkpoint folder (config, index, adapter config), refused when it links outside the folder. */
export async function readFolderJson(dir: string, name: string): Promise<Record<string, unknown>> {
  const file = path.join(dir, name);
  await checkRealInside(dir, file, file);
  return readJsonObject(file);
}

export async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}

/**
 * The weights of one checkpoint folder, single-file or sharded, opened header-only. The index is
 * checked against the shards both ways, so a tensor can never be silently missing or doubled.
 */
export class CheckpointWeights {
  private constructor(
    readonly dir: string,
    readonly files: SafetensorsFile[],
    readonly byName: ReadonlyMap<string, WeightRef>,
    /** The index file when sharded. */
    readonly index?: string,
  ) {}

  /** Opens `model.safetensors.index.json` and its shards, or `model.safetensors`, or an explicit file. */
  static async open(dir: string, fileName?: string): Promise<CheckpointWeights> {
    if (fileName) return CheckpointWeights.fromFiles(dir, [path.join(dir, fileName)]);
    const index = path.join(dir, INDEX_FILE);
    if (await exists(index)) return CheckpointWeights.fromIndex(dir, index);
    const single = path.join(dir, MODEL_FILE);
    if (await exists(single)) return CheckpointWeights.fromFiles(dir, [single]);
    throw new CheckpointError(dir, `no ${MODEL_FILE} or ${INDEX_FILE} (only safetensors checkpoints are supported)`);
  }

  private static async fromFiles(dir: string, files: string[]): Promise<CheckpointWeights> {
    for (const f of files) await checkRealInside(dir, f, f);
    const opened = await openAll(files);
    const byName = new Map<string, WeightRef>();
    for (const file of opened) {
      for (const info of file.tensors) {
        if (byName.has(info.name)) {
          await Promise.all(opened.map((f) => f.close()));
          throw new CheckpointError(file.path, `tensor also stored in ${byName.get(info.name)!.file.path}`, info.name);
        }
        byName.set(info.name, { info, file });
      }
    }
    return new CheckpointWeights(dir, opened, byName);
  }

  private static async fromIndex(dir: string, index: string): Promise<CheckpointWeights> {
    const json = await readFolderJson(dir, path.basename(index));
    const map = json.weight_map;
    if (typeof map !== 'object' || map === null || Array.isArray(map))
      throw new CheckpointError(index, 'has no "weight_map" object');
    const entries = Object.entries(map as Record<string, unknown>);
    const shardNames = [...new Set(entries.map(([, f]) => f))];
    const shardPaths = shardNames.map((f) => resolveInside(dir, f as string, index));
    for (const shard of shardPaths) await checkRealInside(dir, shard, index);
    const opened = await openAll(shardPaths);
    const shardOf = new Map(shardNames.map((n, i) => [n as string, opened[i]]));
    const byName = new Map<string, WeightRef>();
    try {
      for (const [name, shard] of entries) {
        const file = shardOf.get(shard as string)!;
        const info = file.header.byName.get(name);
        if (!info) throw new CheckpointError(index, `listed in ${shard as string}, which does not contain it`, name);
        byName.set(name, { info, file });
      }
      for (const file of opened) {
        for (const info of file.tensors) {
          if (byName.get(info.name)?.file !== file)
            throw new CheckpointError(file.path, `not listed for this shard in ${path.basename(index)}`, info.name);
        }
      }
    } catch (e) {
      await Promise.all(opened.map((f) => f.close()));
      throw e;
    }
    return new CheckpointWeights(dir, opened, byName, index);
  }

  /** Tensors in storage order: shard by shard, by offset. */
  get tensors(): WeightRef[] {
    return this.files.flatMap((file) => file.tensors.map((info) => ({ info, file })));
  }

  get(name: string): WeightRef | undefined {
    return this.byName.get(name);
  }

  /** Total bytes of tensor data (the index's total_size). */
  get dataBytes(): number {
    return this.files.reduce((n, f) => n + f.header.dataBytes, 0);
  }

  close(): Promise<void> {
    return Promise.all(this.files.map((f) => f.close())).then(() => undefined);
  }
}

async function openAll(files: string[]): Promise<SafetensorsFile[]> {
  const results = await Promise.allSettled(files.map((f) => SafetensorsFile.open(f)));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    await Promise.all(results.map((r) => (r.status === 'fulfilled' ? r.value.close() : undefined)));
    throw failed.reason;
  }
  return results.map((r) => (r as PromiseFulfilledResult<SafetensorsFile>).value);
}
