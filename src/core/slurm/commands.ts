// Slurm's client commands (sbatch, squeue, sacct, scontrol, scancel) and the parsing of their output.
// Every call is a real process; errors carry Slurm's own message as it is.
import { execFile } from 'node:child_process';

export class SlurmError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SlurmError';
  }
}

/** What Slurm says of one job. `state` is Slurm's name (PENDING, RUNNING, TIMEOUT, …). */
export interface SlurmJob {
  id: string;
  state: string;
  reason?: string;
  partition?: string;
  nodeList?: string;
  exitCode?: string;
}

function run(command: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      { encoding: 'utf-8', timeout: 60_000, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (!error) return resolve(stdout);
        const e = error as NodeJS.ErrnoException & { code?: string | number };
        if (e.code === 'ENOENT')
          return reject(
            new SlurmError(
              `${command} is not on PATH: this machine has no Slurm client commands (install Slurm's clients or open the workspace on a login node)`,
            ),
          );
        reject(new SlurmError(`${command}: ${(stderr || stdout || e.message).trim()}`));
      },
    );
  });
}

/** Submits a batch script; returns the job id (`sbatch --parsable` prints `id[;cluster]`). */
export async function sbatch(script: string): Promise<string> {
  const out = (await run('sbatch', ['--parsable', script])).trim();
  const id = out.split('\n').at(-1)?.split(';')[0] ?? '';
  if (!/^\d+(_\d+)?$/.test(id)) throw new SlurmError(`sbatch printed no job id: ${out}`);
  return id;
}

export async function scancel(jobId: string): Promise<void> {
  await run('scancel', [jobId]);
}

const SQUEUE_FORMAT = '%i|%T|%r|%P|%N';

/** `squeue` output in SQUEUE_FORMAT: one job a line. */
export function parseSqueue(text: string): SlurmJob[] {
  return text
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => {
      const [id, state, reason, partition, nodeList] = l.split('|');
      return {
        id: id.trim(),
        state,
        reason: reason === 'None' ? undefined : reason,
        partition,
        nodeList: nodeList || undefined,
      };
    });
}

/** `sacct -X -n -P -o JobIDRaw,State,Reason,Partition,NodeList,ExitCode`: the State may read "CANCELLED by 0". */
export function parseSacct(text: string): SlurmJob[] {
  return text
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => {
      const [id, state, reason, partition, nodeList, exitCode] = l.split('|');
      return {
        id,
        state: state.split(' ')[0],
        reason: reason === 'None' ? undefined : reason,
        partition,
        nodeList: nodeList && nodeList !== 'None assigned' ? nodeList : undefined,
        exitCode,
      };
    });
}

/** `scontrol show job -o ID`: one line of Key=Value pairs. */
export function parseScontrolJob(text: string): SlurmJob | undefined {
  const fields = new Map<string, string>();
  for (const m of text.matchAll(/(?:^|\s)([A-Za-z:/]+)=(\S*)/g)) if (!fields.has(m[1])) fields.set(m[1], m[2]);
  const id = fields.get('JobId');
  const state = fields.get('JobState');
  if (!id || !state) return undefined;
  const nodes = fields.get('NodeList');
  const reason = fields.get('Reason');
  return {
    id,
    state,
    reason: reason === 'None' ? undefined : reason,
    partition: fields.get('Partition'),
    nodeList: nodes && nodes !== '(null)' ? nodes : undefined,
    exitCode: fields.get('ExitCode'),
  };
}

/**
 * What Slurm knows of these jobs, in as few calls as it takes: one `squeue` for all of them; for those
 * it no longer lists (finished), one `sacct` where accounting answers, else `scontrol show job` each.
 * A job missing from the map is one Slurm has forgotten.
 */
export async function queryJobs(ids: string[]): Promise<Map<string, SlurmJob>> {
  const found = new Map<string, SlurmJob>();
  if (!ids.length) return found;
  // --states=all keeps jobs that ended within MinJobAge; a job id squeue no longer knows is not an error then.
  for (const job of parseSqueue(
    await run('squeue', ['-h', '--states=all', '-o', SQUEUE_FORMAT, '-j', ids.join(',')]).catch(rethrowUnlessInvalidId),
  ))
    found.set(job.id, job);
  let missing = ids.filter((id) => !found.has(id));
  if (!missing.length) return found;
  const accounted = await run('sacct', [
    '-X',
    '-n',
    '-P',
    '-o',
    'JobIDRaw,State,Reason,Partition,NodeList,ExitCode',
    '-j',
    missing.join(','),
  ]).catch(() => undefined);
  for (const job of accounted ? parseSacct(accounted) : []) if (missing.includes(job.id)) found.set(job.id, job);
  missing = missing.filter((id) => !found.has(id));
  for (const id of accounted === undefined ? missing : []) {
    const job = parseScontrolJob(await run('scontrol', ['show', 'job', '-o', id]).catch(() => ''));
    if (job) found.set(id, job);
  }
  return found;
}

function rethrowUnlessInvalidId(e: SlurmError): string {
  if (/Invalid job id/i.test(e.message)) return '';
  throw e;
}
