// The experiments table's data: parameters that differ, losses after a resume, benchmark scores of a
// run's checkpoints and of their merges, and curves thinned for the plots.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { experimentsTable, SERIES_POINTS } from '../../src/core/experiments/table';
import type { ModelResults } from '../../src/core/results/types';
import type { MetricRecord, RunStatus } from '../../src/core/runs/types';

const status = (name: string, over: Partial<RunStatus> = {}): RunStatus => ({
  id: name,
  name,
  state: 'done',
  createdAt: '2026-01-01T00:00:00.000Z',
  startedAt: '2026-01-01T00:00:00.000Z',
  engine: 'tfjs',
  step: 0,
  ...over,
});
const rec = (step: number, loss: number): MetricRecord => ({ step, epoch: 0, loss, lr: 1e-4, elapsed: step, time: '' });
const scores = (checkpoint: string, value: number, higherIsBetter = true): ModelResults => ({
  model: checkpoint,
  file: '/r.json',
  format: 'taia-results',
  checkpoint,
  tasks: new Map([['capitals', { metrics: new Map([['exact_match', { value, higherIsBetter }]]) }]]),
});

test('parameter columns show by default only where runs differ; names and run fields are not parameters', () => {
  const config = (lr: number) =>
    ({ name: 'x', experimentFile: '/x.taia.yaml', base: '/m', train: { learning_rate: lr, seed: 1 } }) as never;
  const t = experimentsTable([
    { dir: '/ws/a', status: status('a'), config: config(1e-4), metrics: [] },
    { dir: '/ws/b', status: status('b'), config: config(2e-4), metrics: [] },
  ]);
  const param = (id: string) => t.columns.find((c) => c.id === `param:${id}`);
  assert.equal(param('train.learning_rate')!.visible, true);
  assert.equal(param('train.seed')!.visible, false);
  assert.equal(param('base')!.visible, false);
  assert.equal(param('name'), undefined);
  assert.equal(param('experimentFile'), undefined);
  assert.equal(t.rows[1].values['param:train.learning_rate'], '0.0002');
});

test('losses: a resumed run’s repeated steps count once (the later record); best and final', () => {
  const metrics = [rec(1, 3), rec(2, 2.5), rec(3, 9), rec(3, 2), rec(4, 1.5)];
  const [row] = experimentsTable([{ dir: '/ws/a', status: status('a', { step: 4 }), metrics }]).rows;
  assert.equal(row.values.finalLoss, 1.5);
  assert.equal(row.values.bestLoss, 1.5);
  assert.deepEqual(row.series.step, [1, 2, 3, 4]);
  assert.deepEqual(row.series.loss, [3, 2.5, 2, 1.5]);
  assert.equal(row.values.started, '2026-01-01 00:00:00');
});

test('benchmarks: the best of the run’s checkpoints, and of each recipe’s merges; other runs’ results stay out', () => {
  const runs = [
    { dir: '/ws/.taia/runs/a', status: status('a'), metrics: [] },
    { dir: '/ws/.taia/runs/ab', status: status('ab'), metrics: [] },
  ];
  const results = [
    scores('/ws/.taia/runs/a/checkpoints/checkpoint-10', 0.2),
    scores('/ws/.taia/runs/a/checkpoints/checkpoint-20', 0.4),
    scores('/ws/.taia/runs/ab/checkpoints/checkpoint-10', 0.9),
    scores('/ws/merged/a-taia', 0.6),
    scores('/ws/merged/a-taif', 0.1),
  ];
  const merges = [
    { dir: '/ws/merged/a-taia', recipe: 'taia', finetuned: '/ws/.taia/runs/a/checkpoints/checkpoint-20' },
    { dir: '/ws/merged/a-taif', recipe: 'taif', finetuned: '/ws/.taia/runs/a/checkpoints/checkpoint-20' },
  ];
  const t = experimentsTable(runs, results, merges);
  const [a, ab] = t.rows;
  assert.equal(a.values['bench:capitals/exact_match/checkpoint'], 0.4);
  assert.equal(a.values['bench:capitals/exact_match/taia'], 0.6);
  assert.equal(a.values['bench:capitals/exact_match/taif'], 0.1);
  assert.equal(
    ab.values['bench:capitals/exact_match/checkpoint'],
    0.9,
    '/ws/.taia/runs/ab is not inside /ws/.taia/runs/a',
  );
  assert.equal(ab.values['bench:capitals/exact_match/taia'], null);
  // Lower is better: the best is the lowest.
  const ppl = experimentsTable(
    [runs[0]],
    [
      scores('/ws/.taia/runs/a/checkpoints/checkpoint-10', 12, false),
      scores('/ws/.taia/runs/a/checkpoints/checkpoint-20', 10, false),
    ],
  );
  assert.equal(ppl.rows[0].values['bench:capitals/exact_match/checkpoint'], 10);
  assert.equal(ppl.columns.find((c) => c.id === 'bench:capitals/exact_match/checkpoint')!.lowerIsBetter, true);
});

test('curves are thinned to SERIES_POINTS, keeping the last step', () => {
  const metrics = Array.from({ length: 3 * SERIES_POINTS + 7 }, (_, i) => rec(i + 1, 1 / (i + 1)));
  const [row] = experimentsTable([{ dir: '/ws/a', status: status('a'), metrics }]).rows;
  assert.ok(row.series.step.length <= SERIES_POINTS + 1, String(row.series.step.length));
  assert.equal(row.series.step.at(-1), metrics.length);
  assert.equal(row.series.step[0], 1);
});
