// The Slurm job script and the parsing of Slurm's answers: pure functions, checked line by line.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { parseExperiment } from '../../src/core/experiment/validate';
import type { RunConfig } from '../../src/core/runs/types';
import type { RunStatus } from '../../src/core/runs/types';
import { parseSacct, parseScontrolJob, parseSqueue } from '../../src/core/slurm/commands';
import { reconcileSlurm } from '../../src/core/slurm/follow';
import { slurmSettings, trainingScript } from '../../src/core/slurm/submit';

const EXPERIMENT = `
name: llama-70b-lora
base: models/llama
dataset: data/alpaca.jsonl
engine: torch
launcher: slurm
slurm:
  partition: gpu
  account: nlp-lab
  qos: high
  time: "2-00:00:00"
  nodes: 4
  gpus_per_node: 8
  cpus_per_task: 64
  mem: 900G
  constraint: h100
  modules: [cuda/12.4, python/3.11]
  setup: ["source $HOME/venvs/taia/bin/activate", "export HF_HOME=/scratch/$USER/hf"]
  sbatch_args: [--exclusive]
  requeue: true
`;

describe('Slurm job script', () => {
  it('for a 4-node, 8-GPU PyTorch run: options, modules, setup, srun + torch.distributed.run rendezvous, the trainer', () => {
    const { config, problems } = parseExperiment(EXPERIMENT, '/lab/llama.taia.yaml');
    assert.deepEqual(problems, []);
    const run = '/lab/.taia/runs/2026-01-01T00-00-00-llama-70b-lora';
    const script = trainingScript(run, { ...config, experimentFile: '/lab/llama.taia.yaml' } as RunConfig, {
      node: '/opt/node/bin/node',
      trainer: '/opt/taia/dist/trainer.js',
      env: { TAIA_PYTHON: 'python' },
    });
    assert.deepEqual(script.split('\n'), [
      '#!/bin/bash',
      '#SBATCH --job-name=taia-llama-70b-lora',
      `#SBATCH --output=${run}/job.out`,
      '#SBATCH --open-mode=append',
      `#SBATCH --chdir=${run}`,
      '#SBATCH --nodes=4',
      '#SBATCH --ntasks-per-node=1',
      '#SBATCH --partition=gpu',
      '#SBATCH --account=nlp-lab',
      '#SBATCH --qos=high',
      '#SBATCH --time=2-00:00:00',
      '#SBATCH --gpus-per-node=8',
      '#SBATCH --cpus-per-task=64',
      '#SBATCH --mem=900G',
      '#SBATCH --constraint=h100',
      '#SBATCH --signal=B:USR1@120',
      '#SBATCH --requeue',
      '#SBATCH --exclusive',
      `# TAIA Lab training run 2026-01-01T00-00-00-llama-70b-lora (engine torch) from /lab/llama.taia.yaml. Written by TAIA Lab and submitted with sbatch --parsable; change the experiment file, not this script.`,
      'set -eo pipefail',
      'module load cuda/12.4',
      'module load python/3.11',
      'source $HOME/venvs/taia/bin/activate',
      'export HF_HOME=/scratch/$USER/hf',
      'export TAIA_PYTHON=python',
      "# PyTorch engine: srun starts torch.distributed.run once per node task; the rendezvous comes from Slurm's variables.",
      'export MASTER_ADDR="$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)"',
      'export MASTER_PORT="$((29500 + SLURM_JOB_ID % 1000))"',
      'export TAIA_TORCHRUN="srun --kill-on-bad-exit=1 ${TAIA_PYTHON:-python3} -m torch.distributed.run --nnodes=$SLURM_NTASKS --nproc_per_node=8 --rdzv_backend=c10d --rdzv_endpoint=$MASTER_ADDR:$MASTER_PORT --rdzv_id=$SLURM_JOB_ID"',
      '# The trainer saves a checkpoint and stops on SIGTERM (scancel, preemption) and on USR1 (120 s before the time limit), then requeues the job, which resumes from that checkpoint.',
      `exec /opt/node/bin/node /opt/taia/dist/trainer.js --run ${run}`,
      '',
    ]);
  });

  it('for the built-in engine: no torchrun, empty keys left to the cluster, Electron told to run as node, odd paths quoted', () => {
    const { config } = parseExperiment('base: m\ndataset: d.jsonl\nlauncher: slurm\n', '/w/x.taia.yaml');
    const script = trainingScript("/w/it's here", config as RunConfig, {
      node: '/usr/share/code-server/lib/code-server',
      trainer: '/ext/dist/trainer.js',
      env: {},
    });
    const lines = script.split('\n');
    assert.deepEqual(
      lines.filter((l) => l.startsWith('#SBATCH')),
      [
        '#SBATCH --job-name=taia-x',
        `#SBATCH --output="/w/it's here/job.out"`,
        '#SBATCH --open-mode=append',
        `#SBATCH --chdir="/w/it's here"`,
        '#SBATCH --nodes=1',
        '#SBATCH --ntasks-per-node=1',
        '#SBATCH --signal=B:USR1@120',
      ],
    );
    assert.ok(lines.includes('export ELECTRON_RUN_AS_NODE=1'));
    assert.ok(!script.includes('TAIA_TORCHRUN'));
    assert.equal(
      lines.at(-2),
      `exec /usr/share/code-server/lib/code-server /ext/dist/trainer.js --run '/w/it'\\''s here'`,
    );
    assert.throws(
      () => trainingScript('/w/"quoted"', config as RunConfig, { node: 'node', trainer: 't.js', env: {} }),
      /cannot contain a double quote/,
    );
  });

  it('takes defaults from settings for keys the file leaves out, and checks them', () => {
    const { config, problems } = parseExperiment(
      'base: m\ndataset: d.jsonl\nslurm: { partition: mine }\n',
      'x.taia.yaml',
      { 'slurm.partition': 'gpu', 'slurm.account': 'lab', 'slurm.nodes': 0 },
    );
    assert.equal(config.slurm.partition, 'mine');
    assert.equal(config.slurm.account, 'lab');
    assert.equal(config.slurm.nodes, 1);
    assert.deepEqual(
      problems.map((p) => p.message),
      ["setting for 'slurm.nodes': must be at least 1, got 0"],
    );
    assert.equal(slurmSettings({ time: '10' }).signal_seconds, 120);
  });
});

describe("Slurm's answers", () => {
  it('parses squeue, sacct and scontrol as Slurm 22.05 prints them', () => {
    assert.deepEqual(parseSqueue('12|PENDING|Priority|gpu|\n13|RUNNING|None|gpu|node[01-04]\n'), [
      { id: '12', state: 'PENDING', reason: 'Priority', partition: 'gpu', nodeList: undefined },
      { id: '13', state: 'RUNNING', reason: undefined, partition: 'gpu', nodeList: 'node[01-04]' },
    ]);
    assert.deepEqual(parseSacct('14|CANCELLED by 1000|None|gpu|node01|0:15\n'), [
      { id: '14', state: 'CANCELLED', reason: undefined, partition: 'gpu', nodeList: 'node01', exitCode: '0:15' },
    ]);
    // A line of `scontrol show job -o` as this machine's Slurm printed it (shortened).
    const line =
      'JobId=1 JobName=j.sh UserId=root(0) GroupId=root(0) JobState=TIMEOUT Reason=TimeLimit Dependency=(null) Requeue=1 Restarts=0 BatchFlag=1 ExitCode=0:0 Partition=debug NodeList=vm BatchHost=vm NumNodes=1';
    assert.deepEqual(parseScontrolJob(line), {
      id: '1',
      state: 'TIMEOUT',
      reason: 'TimeLimit',
      partition: 'debug',
      nodeList: 'vm',
      exitCode: '0:0',
    });
  });

  it("turns a job into a run state: pending with the reason, an end the trainer could not record, the trainer's own end kept", () => {
    const base: RunStatus = {
      id: 'r',
      name: 'r',
      state: 'pending',
      createdAt: '',
      engine: 'tfjs',
      step: 0,
      slurm: { jobId: '7', script: '/r/job.sbatch', output: '/nonexistent/job.out' },
    };
    assert.deepEqual(
      reconcileSlurm(base, { id: '7', state: 'PENDING', reason: 'Resources', partition: 'gpu' })?.slurm?.reason,
      'Resources',
    );
    assert.equal(
      reconcileSlurm(
        { ...base, slurm: { ...base.slurm!, jobState: 'PENDING', reason: 'Resources', partition: 'gpu' } },
        { id: '7', state: 'PENDING', reason: 'Resources', partition: 'gpu' },
      ),
      undefined,
    );
    const running = { ...base, state: 'running' as const };
    assert.equal(reconcileSlurm(running, { id: '7', state: 'TIMEOUT', reason: 'TimeLimit' })?.state, 'timeout');
    assert.equal(reconcileSlurm(running, { id: '7', state: 'NODE_FAIL' })?.state, 'node_fail');
    const died = reconcileSlurm(base, { id: '7', state: 'FAILED', exitCode: '127:0' });
    assert.equal(died?.state, 'failed');
    assert.match(died!.error!, /job 7 ended FAILED \(exit code 127:0\) before the trainer finished/);
    assert.equal(reconcileSlurm({ ...base, state: 'done' }, { id: '7', state: 'COMPLETED' })?.state, undefined);
    assert.equal(reconcileSlurm({ ...base, state: 'cancelled' }, { id: '7', state: 'PREEMPTED' })?.state, 'preempted');
    // Requeued after the trainer stopped: pending again.
    assert.equal(
      reconcileSlurm({ ...base, state: 'cancelled' }, { id: '7', state: 'PENDING', reason: 'BeginTime' })?.state,
      'pending',
    );
    assert.equal(reconcileSlurm(running, undefined)?.state, 'failed');
  });
});
