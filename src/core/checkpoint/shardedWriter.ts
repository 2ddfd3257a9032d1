import { writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { byteLength } from '../safetensors/dtypes';
import { SafetensorsWriter, TensorSpec } from '../safetensors/writer';
import { INDEX_FILE, MODEL_FILE } from './weights';

export interface Shard {
  file: string;
  tensors: TensorSpec[];
  bytes: number;
}

/**
 * Splits tensors, in order, into shards of at most `maxBytes` of data, as `save_pretrained` does:
 * a tensor larger than the limit gets a shard of its own. One shard is named `model.safetensors`.
 */
export function planShards(specs: readonly TensorSpec[], maxBytes: number): Shard[] {
  const groups: { tensors: TensorSpec[]; bytes: number }[] = [];
  let cur: { tensors: TensorSpec[]; bytes: number } | undefined;
  for (const spec of specs) {
    const n = byteLength(spec.dtype, spec.shape) ?? 0;
    if (!cur || (cur.tensors.length > 0 && cur.bytes + n > maxBytes)) {
      cur = { tensors: [], bytes: 0 };
      groups.push(cur);
    }
    cur.tensors.push(spec);
    cur.bytes += n;
  }
  if (groups.length === 0) groups.push({ tensors: [], bytes: 0 });
  const count = groups.length;
  const pad = (i: number) => String(i).padStart(5, '0');
  return groups.map((g, i) => ({
    ...g,
    file: count === 1 ? MODEL_FILE : `model-${pad(i + 1)}-of-${pad(count)}.safetensors`,
  }));
}

/**
 * Streams tensors into shards plus `model.safetensors.index.json`. Tensors arrive in declared order;
 * each shard is opened when its first tensor arrives and flushed when its last one is complete.
 */
export class ShardedWriter {
  private shardIndex = -1;
  private writer: SafetensorsWriter | undefined;
  readonly shards: Shard[];

  constructor(
    readonly dir: string,
    specs: readonly TensorSpec[],
    maxShardBytes: number,
    private readonly metadata?: Record<string, string>,
  ) {
    this.shards = planShards(specs, maxShardBytes);
  }

  /** Appends bytes of tensor `name`; opening the next shard when the previous one is complete. */
  async write(name: string, chunk: Uint8Array): Promise<void> {
    while (!this.writer || this.writer.current === undefined) await this.nextShard();
    await this.writer.write(name, chunk);
  }

  private async nextShard(): Promise<void> {
    if (this.writer) await this.writer.finish();
    this.shardIndex++;
    const shard = this.shards[this.shardIndex];
    if (!shard) throw new Error('more tensors written than planned');
    this.writer = await SafetensorsWriter.create(path.join(this.dir, shard.file), shard.tensors, this.metadata);
  }

  /** Finishes every remaining shard (including shards of only empty tensors) and writes the index. */
  async finish(): Promise<void> {
    while (this.shardIndex < this.shards.length - 1) await this.nextShard();
    await this.writer?.finish();
    this.writer = undefined;
    if (this.shards.length > 1)
      await writeFile(path.join(this.dir, INDEX_FILE), JSON.stringify(indexJson(this.shards), null, 2) + '\n');
  }

  async abort(): Promise<void> {
    await this.writer?.abort();
    this.writer = undefined;
  }
}

function indexJson(shards: Shard[]): unknown {
  const entries = shards
    .flatMap((s) => s.tensors.map((t) => [t.name, s.file] as const))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return { metadata: { total_size: shards.reduce((n, s) => n + s.bytes, 0) }, weight_map: Object.fromEntries(entries) };
}
