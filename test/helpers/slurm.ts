// A real single-node Slurm cluster for the tests: Debian's slurm-wlm and munge (installed with apt-get
// when missing, as root), a slurm.conf for this machine on loopback in a temporary folder (SLURM_CONF),
// and munged, slurmctld and slurmd started here and stopped by their pids. Nothing in /etc is touched:
// munged gets its own key and socket, so clusters of parallel test runs do not meet.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, totalmem, cpus, tmpdir } from 'node:os';
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';

export interface SlurmCluster {
  dir: string;
  conf: string;
  /** The environment client commands need: SLURM_CONF. */
  env: Record<string, string>;
  partition: string;
  stop(): void;
}

const SBIN = '/usr/sbin';

/** Installs Slurm and munge when missing; returns why not where that cannot be done. */
export function ensureSlurmInstalled(): string | undefined {
  if (existsSync(`${SBIN}/slurmctld`) && existsSync(`${SBIN}/slurmd`) && existsSync(`${SBIN}/munged`)) return undefined;
  if (process.getuid?.() !== 0)
    return 'Slurm (slurm-wlm, munge) is not installed and the tests do not run as root, so they cannot install it with apt-get';
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = () =>
    spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'slurm-wlm', 'munge'], {
      env,
      encoding: 'utf-8',
    });
  let r = install();
  if (r.status !== 0) {
    spawnSync('apt-get', ['update'], { env, encoding: 'utf-8' });
    r = install();
  }
  return r.status === 0 ? undefined : `apt-get install slurm-wlm munge failed: ${(r.stderr || r.stdout).slice(-500)}`;
}

/** Why the cluster cannot run here, or undefined when it can. */
export function slurmUnavailable(): string | undefined {
  if (process.platform !== 'linux') return 'the test Slurm cluster runs on Linux only';
  if (process.getuid?.() !== 0)
    return 'the test Slurm cluster runs its daemons as root (SlurmUser=root), and the tests do not run as root';
  return ensureSlurmInstalled();
}

const pidOf = (file: string): number | undefined => {
  try {
    return Number(readFileSync(file, 'utf-8').trim()) || undefined;
  } catch {
    return undefined;
  }
};

function stopPid(pid: number | undefined): void {
  if (!pid) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  // Wait (bounded) for it to go, so the next cluster's ports and files are free.
  const end = Date.now() + 10_000;
  while (Date.now() < end) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    spawnSync('sleep', ['0.1']);
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // gone
  }
}

/** Starts munged, slurmctld and slurmd for this node; waits until the partition is idle. */
export function startSlurm(): SlurmCluster {
  const dir = mkdtempSync(path.join(tmpdir(), 'taia-slurm-'));
  chmodSync(dir, 0o755);
  for (const sub of ['munge', 'spool', 'state', 'log']) mkdirSync(path.join(dir, sub), { mode: 0o700 });
  const key = path.join(dir, 'munge', 'munge.key');
  writeFileSync(key, randomBytes(1024), { mode: 0o400 });
  const socket = path.join(dir, 'munge', 'munge.socket');
  const mungePid = path.join(dir, 'munge', 'munged.pid');
  execFileSync(`${SBIN}/munged`, [
    '--force',
    `--key-file=${key}`,
    `--socket=${socket}`,
    `--pid-file=${mungePid}`,
    `--log-file=${path.join(dir, 'log', 'munged.log')}`,
    `--seed-file=${path.join(dir, 'munge', 'seed')}`,
  ]);
  const node = hostname().split('.')[0];
  // Two ports on loopback picked at random, so parallel clusters on one machine do not collide.
  const port = 20000 + Math.floor(Math.random() * 20000);
  const memory = Math.floor((totalmem() / 2 ** 20) * 0.8);
  const conf = path.join(dir, 'slurm.conf');
  writeFileSync(
    conf,
    [
      'ClusterName=taia',
      `SlurmctldHost=${node}(127.0.0.1)`,
      `SlurmctldPort=${port}`,
      `SlurmdPort=${port + 1}`,
      'AuthType=auth/munge',
      'CredType=cred/munge',
      // cred_expire (default 120 s) also delays a requeued job's start; 10 s keeps the requeue test short.
      `AuthInfo=socket=${socket},cred_expire=10`,
      'ProctrackType=proctrack/linuxproc',
      'TaskPlugin=task/none',
      'MpiDefault=none',
      'SchedulerType=sched/backfill',
      'SelectType=select/cons_tres',
      'SelectTypeParameters=CR_Core',
      'ReturnToService=2',
      'SlurmUser=root',
      'KillWait=15',
      `SlurmctldPidFile=${dir}/slurmctld.pid`,
      `SlurmdPidFile=${dir}/slurmd.pid`,
      `SlurmdSpoolDir=${dir}/spool`,
      `StateSaveLocation=${dir}/state`,
      `SlurmctldLogFile=${dir}/log/slurmctld.log`,
      `SlurmdLogFile=${dir}/log/slurmd.log`,
      'JobAcctGatherType=jobacct_gather/none',
      'AccountingStorageType=accounting_storage/none',
      'JobCompType=jobcomp/filetxt',
      `JobCompLoc=${dir}/log/jobcomp.txt`,
      `NodeName=${node} NodeAddr=127.0.0.1 CPUs=${cpus().length} RealMemory=${memory} State=UNKNOWN`,
      `PartitionName=debug Nodes=${node} Default=YES MaxTime=INFINITE State=UP`,
      '',
    ].join('\n'),
  );
  const env = { SLURM_CONF: conf };
  const daemonEnv = { ...process.env, ...env };
  const cluster: SlurmCluster = {
    dir,
    conf,
    env,
    partition: 'debug',
    stop: () => {
      // Jobs a failed test left running would outlive the daemons (slurmstepd stays): end them first.
      spawnSync('scancel', ['--full', '--user', String(process.getuid?.() ?? 0)], { env: daemonEnv });
      const end = Date.now() + 30_000;
      while (
        Date.now() < end &&
        spawnSync('squeue', ['-h', '-t', 'PENDING,RUNNING,COMPLETING'], {
          env: daemonEnv,
          encoding: 'utf-8',
        }).stdout.trim()
      )
        spawnSync('sleep', ['0.3']);
      stopPid(pidOf(path.join(dir, 'slurmd.pid')));
      stopPid(pidOf(path.join(dir, 'slurmctld.pid')));
      stopPid(pidOf(mungePid));
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    execFileSync(`${SBIN}/slurmctld`, ['-i'], { env: daemonEnv });
    execFileSync(`${SBIN}/slurmd`, [], { env: daemonEnv });
    const end = Date.now() + 60_000;
    for (;;) {
      const state = spawnSync('sinfo', ['-h', '-o', '%T'], { env: daemonEnv, encoding: 'utf-8' }).stdout.trim();
      if (state === 'idle') break;
      if (Date.now() > end)
        throw new Error(
          `the test Slurm cluster did not become idle (sinfo: ${state || 'no answer'}); logs in ${dir}/log`,
        );
      spawnSync('sleep', ['0.3']);
    }
  } catch (e) {
    cluster.stop();
    throw e;
  }
  return cluster;
}
