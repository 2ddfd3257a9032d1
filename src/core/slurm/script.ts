// The batch script of a Slurm job: a pure function of the run and the `slurm` settings, so the script a
// user reads (the dry run, the run folder's job.sbatch) is exactly what sbatch receives.
import type { SlurmSettings } from '../experiment/schema';
import { SlurmError } from './commands';

/** Names inside the job's folder (the run folder, or the folder of an evaluation's result file). */
export const JOB_SCRIPT_FILE = 'job.sbatch';
export const JOB_OUTPUT_FILE = 'job.out';

export interface JobScriptInput {
  /** Job name (`--job-name`). */
  name: string;
  /** The folder the job works in; its script and output file are written there. */
  dir: string;
  settings: SlurmSettings;
  /** A training run on the PyTorch engine gets torch.distributed.run on every node through srun. */
  torchrun: boolean;
  /** The command that runs inside the job: the trainer (node, its bundle, its arguments). */
  command: string[];
  /** Environment the command needs (e.g. TAIA_PYTHON), exported before it. */
  env: Record<string, string>;
  /** Where the script came from, for its comment line. */
  origin: string;
}

/** Single-quotes a word for bash unless it is plainly safe. */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** A path in an `#SBATCH` line: sbatch reads double quotes there (tried on Slurm 22.05), and nothing can carry a `"` or a newline. */
function sbatchPath(value: string): string {
  if (/["\n]/.test(value))
    throw new SlurmError(
      `${value}: a Slurm job's folder cannot contain a double quote or a newline (sbatch cannot read it in an #SBATCH line)`,
    );
  return /[\s'\\$]/.test(value) ? `"${value}"` : value;
}

/** `#SBATCH` options in the order they are written; later options win, so `sbatch_args` come last. */
export function sbatchOptions(input: Pick<JobScriptInput, 'name' | 'dir' | 'settings'>): string[] {
  const s = input.settings;
  const name = input.name.replace(/[^A-Za-z0-9._-]+/g, '-');
  const opts = [
    `--job-name=${name}`,
    `--output=${sbatchPath(`${input.dir}/${JOB_OUTPUT_FILE}`)}`,
    '--open-mode=append',
    `--chdir=${sbatchPath(input.dir)}`,
    `--nodes=${s.nodes}`,
    '--ntasks-per-node=1',
  ];
  const optional: [string, string | number][] = [
    ['partition', s.partition],
    ['account', s.account],
    ['qos', s.qos],
    ['time', s.time],
    ['gpus-per-node', s.gpus_per_node],
    ['cpus-per-task', s.cpus_per_task],
    ['mem', s.mem],
    ['constraint', s.constraint],
  ];
  for (const [key, value] of optional) if (value !== '' && value !== 0) opts.push(`--${key}=${value}`);
  // B: signals the batch shell, which is the trainer itself (exec): it checkpoints and stops.
  opts.push(`--signal=B:USR1@${s.signal_seconds}`);
  if (s.requeue) opts.push('--requeue');
  return [...opts, ...s.sbatch_args];
}

export function jobScript(input: JobScriptInput): string {
  const s = input.settings;
  const lines = ['#!/bin/bash', ...sbatchOptions(input).map((o) => `#SBATCH ${o}`)];
  lines.push(
    `# ${input.origin}. Written by TAIA Lab and submitted with sbatch --parsable; change the experiment file, not this script.`,
  );
  lines.push('set -eo pipefail');
  for (const m of s.modules) lines.push(`module load ${m}`);
  lines.push(...s.setup);
  for (const [key, value] of Object.entries(input.env)) lines.push(`export ${key}=${shellQuote(value)}`);
  if (input.torchrun) {
    const perNode = Math.max(1, s.gpus_per_node);
    lines.push(
      "# PyTorch engine: srun starts torch.distributed.run once per node task; the rendezvous comes from Slurm's variables.",
      'export MASTER_ADDR="$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)"',
      'export MASTER_PORT="$((29500 + SLURM_JOB_ID % 1000))"',
      `export TAIA_TORCHRUN="srun --kill-on-bad-exit=1 \${TAIA_PYTHON:-python3} -m torch.distributed.run --nnodes=$SLURM_NTASKS --nproc_per_node=${perNode} --rdzv_backend=c10d --rdzv_endpoint=$MASTER_ADDR:$MASTER_PORT --rdzv_id=$SLURM_JOB_ID"`,
    );
  }
  lines.push(
    `# The trainer saves a checkpoint and stops on SIGTERM (scancel, preemption) and on USR1 (${s.signal_seconds} s before the time limit)${s.requeue ? ', then requeues the job, which resumes from that checkpoint' : ''}.`,
    `exec ${input.command.map(shellQuote).join(' ')}`,
  );
  return lines.join('\n') + '\n';
}
