// Runs and evaluations through a real Slurm cluster (slurmctld, slurmd, munged started by
// test/helpers/slurm.ts on this machine), driven through the real `taia` command. Never a mock of sbatch.
import { strict as assert } from 'node:assert';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { listCheckpoints, listRuns, readStatus } from '../../src/core/runs/store';
import { followSlurmRuns } from '../../src/core/slurm/follow';
import { requeueJob, slurmEndingJob } from '../../src/trainer/slurmRequeue';
import { RUNS_DIR, type RunStatus } from '../../src/core/runs/types';
import { eventually } from '../helpers/eventually';
import { slurmUnavailable, startSlurm, type SlurmCluster } from '../helpers/slurm';
import { tempDir } from '../helpers/tmp';
import { writeAlpacaDataset, writeExperiment, writeStudyWorld, writeTinyModel } from '../helpers/training';

const repo = path.resolve(__dirname, '../../..');
const cli = path.join(repo, 'dist', 'cli.js');
const skip = slurmUnavailable();
let cluster: SlurmCluster;

function workspace(
  slurm: Record<string, unknown>,
  train: Record<string, unknown> = {},
  extra: Record<string, unknown> = {},
): string {
  const root = tempDir('taia-slurm-ws-');
  writeTinyModel(path.join(root, 'model'));
  writeAlpacaDataset(path.join(root, 'data/train.jsonl'), 40);
  writeExperiment(path.join(root, 'exp.taia.yaml'), {
    launcher: 'slurm',
    slurm: { partition: cluster.partition, ...slurm },
    train: { save_steps: 5, ...train },
    workers: 1,
    ...extra,
  });
  return root;
}

const env = (more: Record<string, string> = {}) => ({
  ...process.env,
  ...cluster.env,
  TAIA_SLURM_POLL_MS: '300',
  ...more,
});

/** `taia …` to its end. */
function taia(
  args: string[],
  cwd: string,
  more: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, ...args], { cwd, env: env(more) });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

const runDirOf = (root: string) => path.join(root, RUNS_DIR, readdirSync(path.join(root, RUNS_DIR))[0]);
const slurmCmd = (cmd: string, ...args: string[]) => {
  const r = spawnSync(cmd, args, { env: env(), encoding: 'utf-8' });
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
};
/** Waits for the run's status to pass `check` (the trainer in the job writes it). */
const statusWhen = (dir: string, check: (s: RunStatus) => boolean, ms = 120_000) =>
  eventually(async () => {
    const s = await readStatus(dir);
    assert.ok(check(s), `status so far: ${JSON.stringify(s)}`);
    return s;
  }, ms);

describe('runs on a real Slurm cluster', { skip }, () => {
  before(() => {
    cluster = startSlurm();
    // This process asks Slurm too (followSlurmRuns), as the editor does.
    process.env.SLURM_CONF = cluster.conf;
  });
  after(() => cluster?.stop());

  it('trains the built-in engine to completion in a job: script in the run folder, job id in status.json, checkpoint', async () => {
    const root = workspace({ time: '10' }, { max_steps: 8 });
    const dry = await taia(['train', 'exp.taia.yaml', '--dry-run'], root);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /^#!\/bin\/bash\n#SBATCH --job-name=taia-exp\n/);
    assert.ok(!existsSync(path.join(root, RUNS_DIR)), 'a dry run creates nothing');
    const r = await taia(['train', 'exp.taia.yaml'], root);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^done at step 8\/8/);
    const dir = runDirOf(root);
    const status = await readStatus(dir);
    assert.equal(status.state, 'done');
    assert.match(status.slurm!.jobId!, /^\d+$/);
    assert.equal(status.slurm!.jobState, 'COMPLETED');
    assert.equal(status.slurm!.partition, cluster.partition);
    assert.ok(status.slurm!.nodeList);
    assert.equal(readFileSync(path.join(dir, 'job.sbatch'), 'utf-8').split('\n')[0], '#!/bin/bash');
    assert.equal(status.lastCheckpoint, 'checkpoints/checkpoint-8');
    assert.ok(existsSync(path.join(dir, 'checkpoints/checkpoint-8/model.safetensors')));
    // A list read before the trainer's last write (the editor polls one) must not turn the job's
    // COMPLETED into "ended before the trainer finished" (seen in CI).
    const stale = { ...status, state: 'running' as const, slurm: { ...status.slurm!, jobState: 'RUNNING' } };
    const [followed] = await followSlurmRuns([{ dir, status: stale }]);
    assert.equal(followed.status.state, 'done', JSON.stringify(followed.status));
    assert.equal((await readStatus(dir)).state, 'done');
    // The job's output is the trainer's live log.
    assert.match(readFileSync(path.join(dir, 'job.out'), 'utf-8'), /step 8\/8 loss/);
    // The built-in evaluator as a job too, on that checkpoint.
    writeFileSync(
      path.join(root, 'sums.jsonl'),
      '{"prompt": "add 1 and 3", "answer": "4"}\n{"prompt": "add 2 and 2", "answer": "4"}\n',
    );
    const out = path.join(root, 'results', 'ck8.taia-results.json');
    const ev = await taia(
      [
        'eval',
        path.join(dir, 'checkpoints/checkpoint-8'),
        '--tasks',
        'sums.jsonl',
        '--max-new-tokens',
        '4',
        '--out',
        out,
        '--launcher',
        'slurm',
        '--slurm',
        `partition=${cluster.partition}`,
        '--slurm',
        'time=10',
      ],
      root,
    );
    assert.equal(ev.code, 0, ev.stderr);
    assert.match(ev.stdout, /^sums \(n=2\): exact_match /);
    assert.equal(JSON.parse(readFileSync(out, 'utf-8')).tasks.sums.n, 2);
    assert.match(
      readFileSync(path.join(root, 'results', 'ck8.slurm', 'job.sbatch'), 'utf-8'),
      /--evaluate .*ck8\.slurm\/job\.json\n$/,
    );
  });

  it(
    'Ctrl-C on taia eval --launcher slurm stops following and leaves the job in the queue',
    { timeout: 180_000 },
    async () => {
      const root = workspace({});
      writeFileSync(path.join(root, 'sums.jsonl'), '{"prompt": "add 1 and 3", "answer": "4"}\n');
      const args = [
        'eval',
        path.join(root, 'model'),
        '--tasks',
        'sums.jsonl',
        '--out',
        path.join(root, 'r.taia-results.json'),
      ];
      const slurm = [
        '--launcher',
        'slurm',
        '--slurm',
        `partition=${cluster.partition}`,
        '--slurm',
        'sbatch_args=--hold',
      ];
      const child = spawn(process.execPath, [cli, ...args, ...slurm], { cwd: root, env: env() });
      let stderr = '';
      child.stderr.on('data', (d) => (stderr += d));
      const closed = new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? -1)));
      // Held, the job waits for ever: the terminal follows it until Ctrl-C.
      const id = await eventually(() => {
        const m = /submitted Slurm job (\d+)[^]*job \1: PENDING/.exec(stderr);
        assert.ok(m, stderr);
        return m[1];
      }, 60_000);
      child.kill('SIGINT');
      assert.equal(await closed, 1, stderr);
      assert.match(stderr, new RegExp(`stopped following; job ${id} goes on`));
      assert.match(slurmCmd('squeue', '-h', '-j', id, '-o', '%T'), /PENDING/);
      slurmCmd('scancel', id);
    },
  );

  it('runs the PyTorch engine as 2 srun tasks with torch.distributed.run ranks from Slurm (stand-in interpreter)', async () => {
    const root = workspace({ sbatch_args: ['--ntasks-per-node=2'] }, { max_steps: 3 }, { engine: 'torch' });
    // A stand-in for python: `-m torch.distributed.run` starts nproc_per_node ranks per srun task (node rank
    // = SLURM_PROCID, as c10d would assign one); the "trainer" records its rank and rank 0 speaks the engine protocol.
    const fake = path.join(root, 'fake-python.js');
    writeFileSync(
      fake,
      `const fs = require('fs'), path = require('path'), { spawnSync } = require('child_process');
let args = process.argv.slice(2);
if (args[0] === '-m' && args[1] === 'torch.distributed.run') {
  const opt = (k) => (args.find((a) => a.startsWith('--' + k + '=')) || '').split('=').slice(1).join('=');
  const nnodes = Number(opt('nnodes')), nproc = Number(opt('nproc_per_node')), node = Number(process.env.SLURM_PROCID);
  const rest = args.slice(2).filter((a) => !a.startsWith('--') || !/^--(nnodes|nproc_per_node|rdzv_backend|rdzv_endpoint|rdzv_id)=/.test(a));
  for (let l = 0; l < nproc; l++) {
    const r = spawnSync(process.execPath, [__filename, ...rest], { stdio: 'inherit', env: { ...process.env, RANK: String(node * nproc + l), LOCAL_RANK: String(l), WORLD_SIZE: String(nnodes * nproc), RDZV: opt('rdzv_endpoint') } });
    if (r.status !== 0) process.exit(r.status || 1);
  }
  process.exit(0);
}
const runDir = args[args.indexOf('--run-dir') + 1];
fs.mkdirSync(path.join(runDir, 'ranks'), { recursive: true });
fs.writeFileSync(path.join(runDir, 'ranks', 'rank-' + process.env.RANK + '.json'), JSON.stringify({ rank: process.env.RANK, world: process.env.WORLD_SIZE, rdzv: process.env.RDZV, channel: process.env.TAIA_ENGINE_CHANNEL }));
if (process.env.RANK !== '0') process.exit(0);
console.log('a library line on stdout');
const emit = (m) => console.log(JSON.stringify({ v: 2, ...m }));
emit({ type: 'env', python: 'fake', executable: 'fake', modules: { torch: '2.4' }, cuda: true, gpus: [{ name: 'Fake GPU' }], problems: [] });
emit({ type: 'started', totalSteps: 3, startStep: 0, parameters: 100, trainableParameters: 10, examples: 40, device: 'cuda:0', dtype: 'bfloat16', world: Number(process.env.WORLD_SIZE) });
for (let s = 1; s <= 3; s++) emit({ type: 'step', step: s, totalSteps: 3, epoch: s / 3, loss: 2 / s, lr: 1e-4, gradNorm: 1, tokensPerSecond: 1000 });
const ck = path.join(runDir, 'checkpoints', 'checkpoint-3'); fs.mkdirSync(ck, { recursive: true });
emit({ type: 'checkpoint', step: 3, path: ck });
emit({ type: 'done', state: 'done', step: 3, checkpoint: ck });
`,
    );
    const python = path.join(root, 'python-fake');
    writeFileSync(python, `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(fake)} "$@"\n`);
    chmodSync(python, 0o755);
    const r = await taia(['train', 'exp.taia.yaml'], root, { TAIA_PYTHON: python });
    const dir = runDirOf(root);
    assert.equal(r.code, 0, `${r.stderr}\n${readFileSync(path.join(dir, 'job.out'), 'utf-8')}`);
    const status = await readStatus(dir);
    assert.equal(status.state, 'done');
    assert.equal(status.backend, 'torch on cuda:0 (bfloat16, 2 processes)');
    const ranks = readdirSync(path.join(dir, 'ranks'))
      .sort()
      .map((f) => JSON.parse(readFileSync(path.join(dir, 'ranks', f), 'utf-8')));
    const port = 29500 + (Number(status.slurm!.jobId) % 1000);
    assert.deepEqual(
      ranks,
      [0, 1].map((rank) => ({
        rank: String(rank),
        world: '2',
        rdzv: `${status.slurm!.nodeList}:${port}`,
        channel: 'stdout',
      })),
    );
    // Library output reaches the job's log; protocol lines do not.
    const out = readFileSync(path.join(dir, 'job.out'), 'utf-8');
    assert.match(out, /a library line on stdout/);
    assert.doesNotMatch(out, /"type":"step"/);
  });

  it("refuses a submission Slurm rejects, with Slurm's message as it is", async () => {
    const root = workspace({ partition: 'no-such-partition' });
    const r = await taia(['train', 'exp.taia.yaml'], root);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /sbatch: error: .*invalid partition specified: no-such-partition/i);
    const status = await readStatus(runDirOf(root));
    assert.equal(status.state, 'failed');
    assert.match(status.error!, /invalid partition specified: no-such-partition/i);
  });

  it('reports a job that dies before the trainer starts with the tail of its output file', async () => {
    const root = workspace({ setup: ['echo "conda: environment taia not found" >&2', 'exit 3'] });
    const r = await taia(['train', 'exp.taia.yaml'], root);
    assert.equal(r.code, 1);
    const status = await readStatus(runDirOf(root));
    assert.equal(status.state, 'failed');
    assert.match(
      status.error!,
      new RegExp(
        `^job ${status.slurm!.jobId} ended FAILED.* before the trainer finished; Slurm's reason: NonZeroExitCode`,
      ),
    );
    assert.match(status.stderrTail!, /conda: environment taia not found/);
    assert.match(r.stderr, /conda: environment taia not found/);
  });

  it('says so when sbatch is not on PATH', async () => {
    const root = workspace({});
    const r = await taia(['train', 'exp.taia.yaml'], root, { PATH: tempDir('taia-empty-path-') });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /sbatch is not on PATH/);
  });

  it('cancels with scancel: the trainer saves a checkpoint on SIGTERM; the run says cancelled; a queued job shows pending and its reason', async () => {
    const root = workspace({}, { max_steps: 100000 });
    const r = await taia(['train', 'exp.taia.yaml', '--detach'], root);
    assert.equal(r.code, 0, r.stderr);
    const dir = runDirOf(root);
    const running = await statusWhen(dir, (s) => s.state === 'running' && s.step >= 2);
    // A second run that wants the whole node waits in the queue, and its run says why.
    const other = workspace({ sbatch_args: ['--exclusive'] }, { max_steps: 100000 });
    assert.equal((await taia(['train', 'exp.taia.yaml', '--detach'], other)).code, 0);
    const [queued] = await followSlurmRuns(await listRuns(other));
    assert.equal(queued.status.state, 'pending');
    assert.equal(queued.status.slurm!.jobState, 'PENDING');
    assert.equal(queued.status.slurm!.reason, 'Resources');
    assert.match(slurmCmd('squeue', '-h', '-o', '%i %T', '-j', queued.status.slurm!.jobId!), /PENDING/);
    slurmCmd('scancel', queued.status.slurm!.jobId!);
    const [gone] = await eventually(async () => {
      const runs = await followSlurmRuns(await listRuns(other));
      assert.equal(runs[0].status.state, 'cancelled');
      return runs;
    }, 30_000);
    assert.equal(gone.status.slurm!.jobState, 'CANCELLED');
    slurmCmd('scancel', running.slurm!.jobId!);
    const ended = await statusWhen(dir, (s) => s.state === 'cancelled');
    assert.ok(
      ended.lastCheckpoint,
      `a checkpoint was saved on the signal: ${JSON.stringify(ended)}\n${readFileSync(path.join(dir, 'job.out'), 'utf-8')}`,
    );
    assert.ok((await listCheckpoints(dir)).length >= 1);
  });

  it('stops before the time limit on USR1 with a checkpoint (state timeout), and resumes as a new job', async () => {
    const root = workspace({ time: '1', signal_seconds: 50 }, { max_steps: 100000 });
    const r = await taia(['train', 'exp.taia.yaml'], root);
    const dir = runDirOf(root);
    assert.equal(r.code, 1, r.stderr);
    const status = await readStatus(dir);
    assert.equal(status.state, 'timeout');
    assert.ok(status.lastCheckpoint);
    assert.match(readFileSync(path.join(dir, 'train.log'), 'utf-8'), /stopped before the time limit at step/);
    const stepAtLimit = status.step;
    const resumed = await taia(['train', '--resume', dir, '--detach'], root);
    assert.equal(resumed.code, 0, resumed.stderr);
    const again = await statusWhen(dir, (s) => s.state === 'running' && (s.resumes ?? 0) === 1 && s.step > stepAtLimit);
    assert.notEqual(again.slurm!.jobId, status.slurm!.jobId);
    slurmCmd('scancel', again.slurm!.jobId!);
    await statusWhen(dir, (s) => s.state === 'cancelled');
  });

  it('with requeue: true, the time-limit warning saves a checkpoint and requeues the job, which resumes by itself', async () => {
    const root = workspace({ time: '1', signal_seconds: 50, requeue: true }, { max_steps: 100000 });
    const r = await taia(['train', 'exp.taia.yaml', '--detach'], root);
    assert.equal(r.code, 0, r.stderr);
    const dir = runDirOf(root);
    const first = await statusWhen(dir, (s) => s.state === 'running');
    // The warning comes within the minute; the trainer then requeues its own job.
    await eventually(
      () =>
        assert.match(
          readFileSync(path.join(dir, 'train.log'), 'utf-8'),
          /stopped before the time limit; requeueing at step (\d+)/,
        ),
      90_000,
    );
    const stopped = Number(/requeueing at step (\d+)/.exec(readFileSync(path.join(dir, 'train.log'), 'utf-8'))![1]);
    // With a one-minute limit Slurm may warn a requeued incarnation again at once (seen here: within
    // 0.1 s), so it need not get past that step: what must hold is that it resumed from the checkpoint
    // saved at the warning, in the same job.
    const again = await statusWhen(dir, (s) => (s.resumes ?? 0) >= 1, 90_000);
    assert.equal(again.slurm!.jobId, first.slurm!.jobId, 'the same job, requeued');
    await eventually(
      () =>
        assert.match(
          readFileSync(path.join(dir, 'train.log'), 'utf-8'),
          new RegExp(`resuming run[^]*steps ${stopped}→`),
        ),
      30_000,
    );
    // The job may be running or waiting for its next incarnation: either way scancel ends it.
    slurmCmd('scancel', again.slurm!.jobId!);
    await eventually(
      () =>
        assert.equal(
          slurmCmd('squeue', '-h', '-t', 'PENDING,RUNNING,COMPLETING', '-j', again.slurm!.jobId!).trim(),
          '',
        ),
      60_000,
    );
  });

  it('an scancel while the trainer stops on the time-limit warning ends the job: the cancel wins over the requeue', async () => {
    const root = workspace({ requeue: true }, { max_steps: 100000 });
    const r = await taia(['train', 'exp.taia.yaml', '--detach'], root);
    assert.equal(r.code, 0, r.stderr);
    const dir = runDirOf(root);
    const running = await statusWhen(dir, (s) => s.state === 'running' && s.step >= 3);
    const id = running.slurm!.jobId!;
    // The warning Slurm sends before the time limit, then at once the user's cancel: the trainer is still
    // saving its checkpoint when the SIGTERM arrives (the race seen in CI, where the requeue won).
    slurmCmd('scancel', '--signal=USR1', '--batch', id);
    slurmCmd('scancel', id);
    // Whichever reached the trainer first (the SIGTERM, Slurm's ending of the job, or its own requeue
    // before Slurm took the cancel, which then cancels the requeued job), the job ends and never resumes.
    await eventually(
      () => assert.equal(slurmCmd('squeue', '-h', '-t', 'PENDING,RUNNING,COMPLETING', '-j', id).trim(), ''),
      60_000,
    );
    // As the editor sees it: the trainer's status, brought up to date with Slurm's end of the job.
    const [ended] = await eventually(async () => {
      const runs = await followSlurmRuns(await listRuns(root));
      assert.equal(runs[0].status.state, 'cancelled', JSON.stringify(runs[0].status));
      return runs;
    }, 30_000);
    assert.equal(ended.status.resumes ?? 0, 0);
    assert.doesNotMatch(readFileSync(path.join(dir, 'train.log'), 'utf-8'), /resuming run/);
  });

  it('a trainer does not requeue a job that Slurm is already ending: an scancel that reached Slurm before the trainer', async () => {
    // A job whose shell, like a trainer saving its checkpoint, takes a while to end on SIGTERM.
    const id = slurmCmd(
      'sbatch',
      // No slurm-N.out in the working directory (the repository).
      ...['--parsable', '--requeue', '-p', cluster.partition, '--output=/dev/null'],
      ...['--wrap', 'trap "sleep 20" TERM; sleep 300 & wait'],
    ).trim();
    const state = () => slurmCmd('squeue', '-h', '-j', id, '-o', '%T %r').trim();
    await eventually(() => assert.match(state(), /^RUNNING/), 60_000);
    assert.equal(slurmEndingJob(id), undefined, 'a running job is not ending');
    slurmCmd('scancel', id);
    assert.equal(slurmEndingJob(id), 'COMPLETING');
    // What the check prevents: Slurm requeues the cancelled job, which then waits to run again.
    assert.equal(requeueJob(id), undefined);
    await eventually(() => assert.match(state(), /^PENDING/), 30_000);
    slurmCmd('scancel', id);
    await eventually(() => assert.equal(state(), ''), 60_000);
    assert.match(requeueJob('999999') ?? '', /^scontrol requeue 999999 failed: .+/);
  });

  it('a launcher: slurm study queues a job per variant at once, and scores exactly as the same study run here', async () => {
    const root = tempDir('taia-slurm-study-');
    writeStudyWorld(root);
    const study = (launcher: string) =>
      `name: on-${launcher}\nbase: base\nfinetuned: ft\nlauncher: ${launcher}\nslurm: { partition: ${cluster.partition} }\n` +
      'eval:\n  tasks: [mc.jsonl, gen.jsonl]\n  max_new_tokens: 4\nvariants: [base, full, taia]\n';
    writeFileSync(path.join(root, 'slurm.taia-study.yaml'), study('slurm'));
    writeFileSync(path.join(root, 'local.taia-study.yaml'), study('local'));
    const onSlurm = await taia(['study', 'slurm.taia-study.yaml'], root);
    assert.equal(onSlurm.code, 0, onSlurm.stderr);
    const lines = onSlurm.stderr.split('\n');
    const submitted = lines.flatMap((l, i) => (/submitted Slurm job \d+/.test(l) ? [i] : []));
    assert.equal(submitted.length, 3, onSlurm.stderr);
    // All three were in the queue before the first variant came back.
    assert.ok(
      submitted.every((i) => i < lines.findIndex((l) => / evaluated in /.test(l))),
      onSlurm.stderr,
    );
    const local = await taia(['study', 'local.taia-study.yaml'], root);
    assert.equal(local.code, 0, local.stderr);
    assert.doesNotMatch(local.stderr, /Slurm/);
    const results = (study: string, variant: string) => {
      const dir = path.join(root, '.taia/results/studies', study);
      return (JSON.parse(readFileSync(path.join(dir, `${variant}.taia-results.json`), 'utf-8')) as { tasks: unknown })
        .tasks;
    };
    for (const variant of ['base', 'full', 'taia']) {
      assert.ok(
        existsSync(path.join(root, '.taia/results/studies/on-slurm', `${variant}.slurm`, 'job.sbatch')),
        `${variant}'s job script`,
      );
      assert.deepEqual(results('on-slurm', variant), results('on-local', variant), variant);
    }
    // A re-run finds every variant evaluated and submits nothing.
    const again = await taia(['study', 'slurm.taia-study.yaml'], root);
    assert.equal(again.code, 0, again.stderr);
    assert.doesNotMatch(again.stderr, /submitted/);
    assert.equal([...again.stderr.matchAll(/: cached/g)].length, 3, again.stderr);
  });

  it('a requeued job (scontrol requeue) resumes from its last checkpoint by itself', async () => {
    // Long enough that the requeue always lands mid-run (a 60-step run can end within a second here).
    const root = workspace({ requeue: true }, { max_steps: 100000 });
    const r = await taia(['train', 'exp.taia.yaml', '--detach'], root);
    assert.equal(r.code, 0, r.stderr);
    const dir = runDirOf(root);
    const running = await statusWhen(dir, (s) => s.state === 'running' && s.step >= 3);
    slurmCmd('scontrol', 'requeue', running.slurm!.jobId!);
    const again = await statusWhen(dir, (s) => s.state === 'running' && (s.resumes ?? 0) === 1, 180_000);
    assert.equal(again.slurm!.jobId, running.slurm!.jobId, 'the same job, requeued');
    // The resumed trainer writes its starting step just after it marks the run resumed.
    const resumedFrom = await eventually(() => {
      const m = /resuming run[^]*?steps (\d+)→/.exec(readFileSync(path.join(dir, 'train.log'), 'utf-8'));
      assert.ok(m, 'train.log says where the resumed job starts');
      return Number(m[1]);
    }, 30_000);
    assert.ok(
      resumedFrom >= running.step,
      `resumed from step ${resumedFrom}, at or after the step seen before the requeue (${running.step})`,
    );
    slurmCmd('scancel', again.slurm!.jobId!);
    await statusWhen(dir, (s) => s.state === 'cancelled');
  });
});
