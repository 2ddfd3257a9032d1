// Virtual variants: a merge read tensor by tensor from base and fine-tune must give exactly the bytes
// and the scores of the same merge written by executeMerge (same predictions, same log-likelihoods).
import { strict as assert } from 'node:assert';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { CheckpointWeights } from '../../src/core/checkpoint/weights';
import { executeMerge } from '../../src/core/merge/execute';
import { planMerge } from '../../src/core/merge/plan';
import { builtinRecipe } from '../../src/core/merge/recipes';
import { VariantSpec, VirtualMerge, writtenVariant } from '../../src/core/merge/virtual';
import { launchTrainer } from '../../src/trainer/client';
import { writeByteLevelTokenizer } from '../../src/trainer/data/byteTokenizer';
import { EvaluateJob } from '../../src/trainer/protocol';
import { llamaTensorShapes, writeAdapter, writeLlama } from '../helpers/models';
import { tempDir } from '../helpers/tmp';
import { TINY } from '../helpers/training';

const TRAINER = path.resolve(__dirname, '../../../dist/trainer.js');

/** A bf16 base, a "fine-tune" of the same geometry and an adapter: bf16 rounding makes exactness matter. */
function world(): { root: string; base: string; ft: string; adapter: string; tasks: string[] } {
  const root = tempDir('taia-virtual-');
  const base = path.join(root, 'base');
  const ft = path.join(root, 'ft');
  const adapter = path.join(root, 'adapter');
  writeLlama(base, TINY, { dtype: 'BF16', seed: 1 });
  writeByteLevelTokenizer(base);
  writeLlama(ft, TINY, { dtype: 'BF16', seed: 2, values: (_n, _s, v) => v.map((x) => x * 3) });
  writeByteLevelTokenizer(ft);
  writeAdapter(adapter, llamaTensorShapes(TINY), {
    r: 4,
    alpha: 8,
    targets: ['q_proj', 'v_proj', 'gate_proj', 'down_proj'],
    dtype: 'BF16',
  });
  const gen = path.join(root, 'gen.jsonl');
  const mc = path.join(root, 'mc.jsonl');
  writeFileSync(
    gen,
    ['capital of France', '2 plus 2', 'color of grass']
      .map((q, i) => JSON.stringify({ id: `g${i}`, prompt: q, answer: 'x' }))
      .join('\n') + '\n',
  );
  writeFileSync(
    mc,
    ['capital of France', '2 plus 2', 'color of grass']
      .map((q, i) => JSON.stringify({ id: `m${i}`, prompt: q, choices: ['blue', 'Paris', 'seven'], answer: i }))
      .join('\n') + '\n',
  );
  return { root, base, ft, adapter, tasks: [gen, mc] };
}

async function evaluate(
  job: Omit<EvaluateJob, 'maxNewTokens' | 'limit' | 'engine' | 'device' | 'backend' | 'tasks'>,
  tasks: string[],
): Promise<{ results: any; samples: any[] }> {
  const full: EvaluateJob = {
    ...job,
    tasks,
    maxNewTokens: 12,
    limit: 0,
    engine: 'tfjs',
    device: 'cpu',
    backend: 'wasm',
  };
  const errors: string[] = [];
  const outcome = await launchTrainer({
    script: TRAINER,
    job: { evaluate: full },
    onMessage: (m) => m.type === 'error' && errors.push(m.message),
  }).outcome;
  assert.deepEqual(outcome, { state: 'done' }, errors.join('\n'));
  const results = JSON.parse(readFileSync(full.out, 'utf-8'));
  const samples = readFileSync(full.out.replace('.taia-results.json', '.samples.jsonl'), 'utf-8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  return { results, samples };
}

const metrics = (r: any) =>
  Object.fromEntries(Object.entries(r.tasks).map(([t, v]) => [t, (v as { metrics: unknown }).metrics]));

describe('virtual merge variants', () => {
  const w = world();
  const variants: [string, VariantSpec][] = [
    [
      'fine-tune, taia, scale 0.5, layer 1',
      { base: w.base, finetuned: w.ft, recipe: builtinRecipe('taia')!, scale: 0.5, layers: [1, 1] },
    ],
    ['fine-tune, taif', { base: w.base, finetuned: w.ft, recipe: builtinRecipe('taif')! }],
    ['adapter, taia (LoRA folded)', { base: w.base, finetuned: w.adapter, recipe: builtinRecipe('taia')! }],
  ];

  for (const [label, spec] of variants) {
    it(`${label}: every tensor's bytes equal the written merge's`, async () => {
      const out = path.join(w.root, `written-${label.replace(/\W+/g, '-')}`);
      await executeMerge(await planMerge({ ...spec, out }));
      const written = await CheckpointWeights.open(out);
      const merge = await VirtualMerge.open(spec);
      try {
        assert.deepEqual(merge.names, [...written.byName.keys()]);
        let differsFromBase = false;
        const base = await CheckpointWeights.open(w.base);
        for (const name of merge.names) {
          const bytes = await merge.read(name);
          assert.deepEqual(Buffer.from(bytes), Buffer.from(await written.get(name)!.file.read(name)), name);
          if (!Buffer.from(bytes).equals(Buffer.from(await base.get(name)!.file.read(name)))) differsFromBase = true;
        }
        await base.close();
        assert.ok(differsFromBase, 'the variant must differ from base, or the test proves nothing');
      } finally {
        await merge.close();
        await written.close();
      }
    });
  }

  it('scores exactly as its written merge: same predictions, metrics and log-likelihoods', async () => {
    const [, spec] = variants[0];
    const out = path.join(w.root, 'results');
    const virtual = await evaluate(
      {
        checkpoint: w.ft,
        base: w.base,
        out: path.join(out, 'virtual.taia-results.json'),
        name: 'virtual',
        variant: { recipe: 'taia', scale: 0.5, layers: [1, 1] },
      },
      w.tasks,
    );
    const dir = path.join(w.root, 'written-scored');
    await executeMerge(await planMerge({ ...spec, out: dir }));
    const written = await evaluate(
      { checkpoint: dir, out: path.join(out, 'written.taia-results.json'), name: 'written' },
      w.tasks,
    );
    assert.deepEqual(
      virtual.samples.map((s) => s.prediction),
      written.samples.map((s) => s.prediction),
    );
    assert.deepEqual(metrics(virtual.results), metrics(written.results));
    assert.equal(virtual.results.model.recipe, 'taia');

    // Log-likelihoods of every choice, bit for bit (JSON keeps doubles exactly), and not base's.
    const lls = (r: { samples: any[] }) => r.samples.filter((s) => s.task === 'mc').map((s) => s.loglikelihoods);
    assert.equal(lls(virtual).flat().length, 9);
    assert.deepEqual(lls(virtual), lls(written));
    const base = await evaluate(
      { checkpoint: w.base, out: path.join(out, 'base.taia-results.json'), name: 'base' },
      w.tasks,
    );
    assert.notDeepEqual(lls(virtual), lls(base));
  });

  it('writes a variant for a folder-only consumer and removes it after, unless kept', async () => {
    const [, spec] = variants[1];
    const temp = await writtenVariant(spec);
    assert.ok(existsSync(path.join(temp.dir, 'taia_merge.json')));
    assert.ok(temp.dir.startsWith(tmpdir()));
    await temp.dispose();
    assert.equal(existsSync(path.dirname(temp.dir)), false);
    const keepAt = path.join(w.root, 'kept');
    const kept = await writtenVariant(spec, keepAt);
    await kept.dispose();
    assert.ok(readdirSync(keepAt).includes('model.safetensors'));
  });
});
