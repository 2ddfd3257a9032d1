// Hostile result files (through `taia bench diff`) and dataset files (through the dataset reader the
// trainer and the previews use): malformed JSON, NaN/Infinity, 50 MB lines, invalid UTF-8, hundreds of
// thousands of tasks or rows. Outcomes are classified as for checkpoints (run.ts).
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { classify, drawCases, Exec, Expect, Outcome } from './run';

type Rng = () => number;
const pick = <T>(rng: Rng, items: readonly T[]): T => items[Math.floor(rng() * items.length)];

interface InputCase {
  variant: string;
  /** `taia` argv, or a dataset file for the reader. */
  run: { argv: string[] } | { dataset: string };
  expect: Expect;
}

const lmEval = (tasks: number) => ({
  results: Object.fromEntries(
    Array.from({ length: tasks }, (_, i) => [`task_${i}`, { 'acc,none': (i % 97) / 97, 'acc_stderr,none': 0.01 }]),
  ),
  date: 1.7e9,
  config: { model_args: 'pretrained=m' },
});

const INVALID_UTF8 = Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0xe2, 0x82]);

export const INPUT_FAMILIES: Record<string, (dir: string, rng: Rng) => InputCase> = {
  'results-json'(dir, rng) {
    const file = path.join(dir, 'results_2026.json');
    const text = JSON.stringify(lmEval(3));
    const fault = pick(rng, [
      'truncated',
      'NaN',
      'Infinity',
      '-Infinity',
      'invalid UTF-8',
      'deep',
      'not object',
      'date 1e300',
      'results array',
    ] as const);
    const body: Record<string, string | Buffer> = {
      truncated: text.slice(0, Math.floor(rng() * (text.length - 1))),
      NaN: text.replace('0.01', 'NaN'),
      Infinity: text.replace('0.01', 'Infinity'),
      '-Infinity': text.replace('0.01', '-Infinity'),
      'invalid UTF-8': Buffer.concat([Buffer.from(text.slice(0, 20)), INVALID_UTF8, Buffer.from(text.slice(20))]),
      deep: `{"results":${'['.repeat(200_000)}${']'.repeat(200_000)}}`,
      'not object': '[1,2,3]',
      'date 1e300': text.replace('"date":1700000000', '"date":1e300'),
      'results array': '{"results":[]}',
    };
    writeFileSync(file, body[fault]);
    return {
      variant: fault,
      run: { argv: ['bench', 'diff', file] },
      expect: fault === 'invalid UTF-8' ? 'either' : 'refuse',
    };
  },
  'results-samples'(dir, rng) {
    const file = path.join(dir, 'results_2026.json');
    writeFileSync(file, JSON.stringify(lmEval(2)));
    const fault = pick(rng, ['50 MB line', 'malformed line', 'invalid UTF-8', 'NaN metric', 'fifo'] as const);
    const samples = path.join(dir, 'samples_task_0_2026.jsonl');
    const good = JSON.stringify({ doc_id: 0, acc: 1 });
    if (fault === '50 MB line')
      writeFileSync(samples, `${good}\n${JSON.stringify({ doc_id: 1, acc: 0, prompt: 'x'.repeat(50 * 2 ** 20) })}\n`);
    if (fault === 'malformed line') writeFileSync(samples, `${good}\n{"doc_id": 1, "acc":\n`);
    if (fault === 'invalid UTF-8')
      writeFileSync(
        samples,
        Buffer.concat([Buffer.from(`${good}\n{"doc_id":1,"acc":0,"p":"`), INVALID_UTF8, Buffer.from('"}\n')]),
      );
    if (fault === 'NaN metric') writeFileSync(samples, `${good}\n{"doc_id":1,"acc":NaN}\n`);
    if (fault === 'fifo') execFileSync('mkfifo', [samples]);
    return { variant: fault, run: { argv: ['bench', 'diff', file] }, expect: 'either' };
  },
  'taia-results'(dir, rng) {
    const file = path.join(dir, 'm.taia-results.json');
    const fault = pick(rng, [
      'samples /etc/passwd',
      'samples ../x',
      'value 1e999',
      'created number',
      'tasks null',
    ] as const);
    const t: Record<string, unknown> = { metrics: { acc: { value: 0.5, higher_is_better: true } } };
    if (fault === 'samples /etc/passwd') t.samples = '/etc/passwd';
    if (fault === 'samples ../x') t.samples = '../x.jsonl';
    const doc = {
      format: 'taia-results',
      version: 1,
      model: { name: 'm' },
      created: fault === 'created number' ? 5 : '2026-01-01T00:00:00Z',
      tasks: fault === 'tasks null' ? null : { t },
    };
    writeFileSync(
      file,
      JSON.stringify(doc).replace('"value":0.5', fault === 'value 1e999' ? '"value":1e999' : '"value":0.5'),
    );
    return { variant: fault, run: { argv: ['bench', 'diff', file] }, expect: 'refuse' };
  },
  'taia-log'(dir, rng) {
    const file = path.join(dir, 'eval.log');
    const fault = pick(rng, ['1e999', '-1e999', 'no lines', 'invalid UTF-8', 'long line'] as const);
    const body: Record<string, string | Buffer> = {
      '1e999': 'Acc in gsm8k: 1e999\n',
      '-1e999': 'Acc in gsm8k: -1e999\n',
      'no lines': 'nothing here\n',
      'invalid UTF-8': Buffer.concat([Buffer.from('Acc in gsm8k: 0.5\n'), INVALID_UTF8]),
      'long line': `Acc in ${'x'.repeat(5 * 2 ** 20)}: 0.5\n`,
    };
    writeFileSync(file, body[fault]);
    return {
      variant: fault,
      run: { argv: ['bench', 'diff', file] },
      expect: fault === 'invalid UTF-8' || fault === 'long line' ? 'accept' : 'refuse',
    };
  },
  'many-tasks'(dir, rng) {
    const n = pick(rng, [200_000, 1_000_000]);
    const file = path.join(dir, 'results_2026.json');
    writeFileSync(file, JSON.stringify(lmEval(n)));
    return { variant: `${n} tasks`, run: { argv: ['bench', 'diff', file] }, expect: 'accept' };
  },
  dataset(dir, rng) {
    const file = path.join(dir, 'train.jsonl');
    const fault = pick(rng, [
      'malformed line',
      'NaN',
      'invalid UTF-8',
      '50 MB line',
      '1e6 rows',
      'not a record',
      'deep',
      'fifo',
    ] as const);
    const good = JSON.stringify({ instruction: 'q', input: '', output: 'a' });
    const body: Record<string, string | Buffer> = {
      'malformed line': `${good}\n{"instruction": \n`,
      NaN: `${good}\n{"instruction":"q","output":NaN}\n`,
      'invalid UTF-8': Buffer.concat([Buffer.from(`${good}\n{"text":"`), INVALID_UTF8, Buffer.from('"}\n')]),
      '50 MB line': `${good}\n${JSON.stringify({ text: 'y'.repeat(50 * 2 ** 20) })}\n`,
      '1e6 rows': `${good}\n`.repeat(1_000_000),
      'not a record': `${good}\n[1,2]\n`,
      deep: `${good}\n{"text":${'['.repeat(100_000)}${']'.repeat(100_000)}}\n`,
      fifo: '',
    };
    if (fault === 'fifo') execFileSync('mkfifo', [file]);
    else writeFileSync(file, body[fault]);
    return {
      variant: fault,
      run: { dataset: file },
      expect: ['invalid UTF-8', '50 MB line', '1e6 rows'].includes(fault) ? 'accept' : 'refuse',
    };
  },
};

const WEIGHTS: Record<string, number> = { 'many-tasks': 0.1 };

/** Hostile result files and datasets, each in a fresh folder. */
export function inputsCampaign(opts: {
  cases: number;
  seed: number;
  exec: Exec;
  timeoutMs: number;
  onOutcome?: (o: Outcome, i: number) => void;
}): Promise<Outcome[]> {
  return drawCases({ ...opts, families: Object.keys(INPUT_FAMILIES), weights: WEIGHTS }, async (family, dir, rng) => {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir);
    const c = INPUT_FAMILIES[family](dir, rng);
    const limit = family === 'many-tasks' ? opts.timeoutMs * 4 : opts.timeoutMs;
    const r = await opts.exec.run('argv' in c.run ? c.run.argv : { dataset: c.run.dataset }, limit);
    return classify(
      { family, variant: c.variant, cmd: 'argv' in c.run ? 'bench' : 'read', leftovers: [], inputsModified: false },
      r,
      c.expect,
      limit,
    );
  });
}
