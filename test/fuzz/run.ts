// Runs hostile cases through the `taia` CLI and classifies each outcome: clean refusal, accepted,
// crash (a stack trace or an unexpected exit status), hang (no answer within the limit), accepted
// but wrong (the format forbids the input, or the output differs from what the oracle expects),
// refused although valid; plus leftovers beside the output and inputs modified.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { rng as seeded } from '../helpers/safetensorsRef';
import { checkSafetensors } from './oracle';
import { buildCase, Case, Command, Expect, FAMILIES, WEIGHTS } from './families';

export type { Expect };

export type Kind = 'refused' | 'accepted' | 'crash' | 'hang' | 'wrong' | 'refused-valid';
export const KINDS: readonly Kind[] = ['refused', 'accepted', 'refused-valid', 'crash', 'hang', 'wrong'];

export interface Outcome {
  family: string;
  variant: string;
  /** The command run: inspect, dry-run, merge, bench (result files) or read (the dataset reader). */
  cmd: string;
  kind: Kind;
  leftovers: string[];
  inputsModified: boolean;
  detail: string;
}

/** A `taia` command line, or a dataset file for the dataset reader (in-process only). */
export type Job = string[] | { dataset: string };
type Answer = { code: number; stdout: string; stderr: string } | 'hang';

export interface Exec {
  run(job: Job, timeoutMs: number): Promise<Answer>;
  close(): Promise<void>;
}

/** The CLI's main in a worker thread: fast; a hang terminates the worker and starts another. */
export class InProcess implements Exec {
  private worker?: Worker;
  constructor(private readonly script = path.join(__dirname, 'worker.js')) {}

  run(job: Job, timeoutMs: number): Promise<Answer> {
    const worker = (this.worker ??= new Worker(this.script));
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        worker.removeAllListeners('message');
        void worker.terminate();
        this.worker = undefined;
        resolve('hang');
      }, timeoutMs);
      worker.once('message', (m) => {
        clearTimeout(timer);
        resolve(m);
      });
      worker.postMessage(job);
    });
  }

  async close(): Promise<void> {
    await this.worker?.terminate();
  }
}

/** The bundled CLI as a child process, as a user runs it. */
export class Spawned implements Exec {
  constructor(private readonly cli = path.resolve(__dirname, '../../../dist/cli.js')) {}

  run(job: Job, timeoutMs: number): Promise<Answer> {
    if (!Array.isArray(job)) throw new Error('the dataset reader runs in-process only');
    const argv = job;
    return new Promise((resolve) => {
      const child = spawn(process.execPath, [this.cli, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout = (stdout + d).slice(-1_000_000)));
      child.stderr.on('data', (d) => (stderr = (stderr + d).slice(-1_000_000)));
      let hung = false;
      const timer = setTimeout(() => {
        hung = true;
        child.kill('SIGKILL');
      }, timeoutMs);
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        resolve(hung ? 'hang' : { code: code ?? (signal ? 128 : 1), stdout, stderr });
      });
    });
  }

  async close(): Promise<void> {}
}

function argvFor(c: Case, cmd: Command): string[] {
  const base = path.join(c.root, 'base');
  const ft = path.join(c.root, 'ft');
  if (cmd === 'inspect') return ['inspect', ft];
  const merge = [
    'merge',
    '--base',
    base,
    '--finetuned',
    ft,
    '--out',
    path.join(c.root, 'out'),
    '--recipe',
    'full',
    '--quiet',
  ];
  return cmd === 'dry-run' ? [...merge, '--dry-run'] : merge;
}

/** size and sha1 of every file under the input folders, without following links. */
function snapshot(root: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const p = path.join(dir, name);
      const s = lstatSync(p);
      if (s.isDirectory()) walk(p);
      else if (s.isFile()) out.set(p, createHash('sha1').update(readFileSync(p)).digest('hex'));
      else out.set(p, s.isSymbolicLink() ? 'link' : 'special');
    }
  };
  for (const d of ['base', 'ft', 'outside']) if (existsSync(path.join(root, d))) walk(path.join(root, d));
  return out;
}

function sameSnapshot(a: Map<string, string>, b: Map<string, string>): boolean {
  return a.size === b.size && [...a].every(([k, v]) => b.get(k) === v);
}

/** Tensor name → bytes of a folder's weights, read with the oracle; a string says what is wrong. */
function readOutput(dir: string): Map<string, Buffer> | string {
  const index = path.join(dir, 'model.safetensors.index.json');
  const files = existsSync(index)
    ? [...new Set(Object.values(JSON.parse(readFileSync(index, 'utf-8')).weight_map as Record<string, string>))]
    : ['model.safetensors'];
  const out = new Map<string, Buffer>();
  for (const f of files) {
    const buf = readFileSync(path.join(dir, f));
    const r = checkSafetensors(buf);
    if (!r.ok) return `output ${f} is not valid safetensors: ${r.why}`;
    for (const t of r.tensors) out.set(t.name, buf.subarray(r.dataStart + t.begin, r.dataStart + t.end));
  }
  return out;
}

function oracleTensors(file: string): Map<string, Uint8Array> {
  const buf = readFileSync(file);
  const r = checkSafetensors(buf);
  if (!r.ok) throw new Error('oracle file is invalid');
  return new Map(r.tensors.map((t) => [t.name, buf.subarray(r.dataStart + t.begin, r.dataStart + t.end)]));
}

// eslint-disable-next-line no-control-regex
const CONTROLS = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/;
const STACK = /^\s+at .+(\(|:\d+:\d+)/m;
const RAW_ERROR = /\b(RangeError|TypeError|ReferenceError|SyntaxError|EvalError)\b|\berrno\b|ERR_[A-Z_]+/;

/** The outcome of one run from its answer and what the input must get; `base` says what ran. */
export function classify(
  base: Omit<Outcome, 'kind' | 'detail'>,
  r: Answer,
  expect: Expect | 'either',
  timeoutMs: number,
): Outcome {
  if (r === 'hang') return { ...base, kind: 'hang', detail: `no answer in ${timeoutMs} ms` };
  if (
    STACK.test(r.stderr) ||
    (r.code !== 0 && r.code !== 1) ||
    (r.code === 1 && (!r.stderr.startsWith('taia: error: ') || RAW_ERROR.test(r.stderr)))
  ) {
    return { ...base, kind: 'crash', detail: `exit ${r.code}: ${r.stderr.slice(0, 400)}` };
  }
  if (r.code === 1)
    return { ...base, kind: expect === 'accept' ? 'refused-valid' : 'refused', detail: r.stderr.trim().slice(0, 300) };
  if (expect === 'refuse')
    return { ...base, kind: 'wrong', detail: 'accepted although the format (or the rule) forbids it' };
  return { ...base, kind: 'accepted', detail: '' };
}

export async function runCase(c: Case, cmd: Command, exec: Exec, timeoutMs: number): Promise<Outcome> {
  rmSync(path.join(c.root, 'out'), { recursive: true, force: true });
  const before = snapshot(c.root);
  const limit = c.big ? timeoutMs * 4 : timeoutMs;
  const r = await exec.run(argvFor(c, cmd), limit);
  const base: Omit<Outcome, 'kind' | 'detail'> = {
    family: c.family,
    variant: c.variant,
    cmd,
    leftovers: [],
    inputsModified: false,
  };
  if (r !== 'hang') {
    const accepted = r.code === 0 && cmd === 'merge';
    base.leftovers = readdirSync(c.root).filter(
      (n) => !['base', 'ft', 'outside'].includes(n) && !(accepted && n === 'out'),
    );
    base.inputsModified = !sameSnapshot(before, snapshot(c.root));
  }
  let expect = c.expect(cmd);
  if (expect === 'oracle') expect = checkSafetensors(readFileSync(c.oracleFile!)).ok ? 'either' : 'refuse';
  const o = classify(base, r, expect, limit);
  if (o.kind !== 'accepted' || r === 'hang') return o;
  if (c.noControls && CONTROLS.test(r.stdout + r.stderr))
    return { ...base, kind: 'wrong', detail: 'raw control characters in the output' };
  if (cmd === 'merge') {
    const want = c.oracleFile && c.expect(cmd) === 'oracle' ? oracleTensors(c.oracleFile) : c.output;
    const got = readOutput(path.join(c.root, 'out'));
    if (typeof got === 'string') return { ...base, kind: 'wrong', detail: got };
    if (want) {
      const missing = [...want.keys()].filter((n) => !got.has(n));
      const extra = [...got.keys()].filter((n) => !want.has(n));
      const differ = [...want]
        .filter(([n, bytes]) => bytes && got.has(n) && !Buffer.from(bytes).equals(got.get(n)!))
        .map(([n]) => n);
      if (missing.length || extra.length || differ.length)
        return {
          ...base,
          kind: 'wrong',
          detail: `output: missing ${JSON.stringify(missing.slice(0, 3))}, extra ${JSON.stringify(extra.slice(0, 3))}, different ${JSON.stringify(differ.slice(0, 3))}`,
        };
    }
  }
  return o;
}

export interface CampaignOptions {
  cases: number;
  seed: number;
  exec: Exec;
  timeoutMs: number;
  /** Families to draw from (default: all). */
  families?: string[];
  onOutcome?: (o: Outcome, i: number) => void;
}

const COMMANDS: readonly Command[] = ['inspect', 'dry-run', 'merge'];

/**
 * Draws `cases` families from a seeded generator (by relative weight, 1 by default) and runs `each` on
 * a fresh folder for each; the working folder is removed at the end.
 */
export async function drawCases(
  opts: {
    cases: number;
    seed: number;
    families: string[];
    weights: Record<string, number>;
    onOutcome?: (o: Outcome, i: number) => void;
  },
  each: (family: string, dir: string, rng: () => number, i: number) => Promise<Outcome>,
): Promise<Outcome[]> {
  const rng = seeded(opts.seed);
  const weights = opts.families.map((f) => opts.weights[f] ?? 1);
  const total = weights.reduce((a, b) => a + b, 0);
  const work = mkdtempSync(path.join(tmpdir(), 'taia-fuzz-'));
  const outcomes: Outcome[] = [];
  try {
    for (let i = 0; i < opts.cases; i++) {
      let x = rng() * total;
      let k = 0;
      while (x >= weights[k] && k < weights.length - 1) x -= weights[k++];
      const o = await each(opts.families[k], path.join(work, 'case'), rng, i);
      outcomes.push(o);
      opts.onOutcome?.(o, i);
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return outcomes;
}

/** Hostile checkpoint folders, each through one of inspect, dry run and merge in turn. */
export function campaign(opts: CampaignOptions): Promise<Outcome[]> {
  return drawCases(
    { ...opts, families: opts.families ?? Object.keys(FAMILIES), weights: WEIGHTS },
    (family, dir, rng, i) =>
      runCase(buildCase(family, dir, rng, i), COMMANDS[i % COMMANDS.length], opts.exec, opts.timeoutMs),
  );
}

/** Families × outcome kinds, with leftovers and modified inputs. */
export function table(outcomes: readonly Outcome[]): string {
  const families = [...new Set(outcomes.map((o) => o.family))].sort();
  const head = ['family', 'runs', ...KINDS, 'leftovers', 'inputs modified'];
  const row = (name: string, os: readonly Outcome[]) => [
    name,
    String(os.length),
    ...KINDS.map((k) => String(os.filter((o) => o.kind === k).length)),
    String(os.filter((o) => o.leftovers.length).length),
    String(os.filter((o) => o.inputsModified).length),
  ];
  const rows = [
    ...families.map((f) =>
      row(
        f,
        outcomes.filter((o) => o.family === f),
      ),
    ),
    row('total', outcomes),
  ];
  const widths = head.map((h, i) => rows.reduce((w, r) => Math.max(w, r[i].length), h.length));
  return [head, ...rows]
    .map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  '))
    .join('\n');
}

/** Outcomes that break the guarantees: crash, hang, wrong, refused-valid, leftovers, modified inputs. */
export function failures(outcomes: readonly Outcome[]): Outcome[] {
  return outcomes.filter(
    (o) => ['crash', 'hang', 'wrong', 'refused-valid'].includes(o.kind) || o.leftovers.length > 0 || o.inputsModified,
  );
}
