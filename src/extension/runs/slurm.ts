// The editor's side of `launcher: slurm`: defaults from the `taiaLab.slurm.*` settings, and how a job
// starts the trainer (this editor's runtime as node, the extension's trainer bundle).
import * as path from 'node:path';
import * as vscode from 'vscode';
import { EXPERIMENT_SCHEMA, type SlurmSettings } from '../../core/experiment/schema';
import type { ExperimentDefaults } from '../../core/experiment/validate';
import { slurmSettings, type TrainerLaunch } from '../../core/slurm/submit';
import { pythonEnvironment } from '../shared/python';

/** Setting name (camelCase) of each `slurm:` key that a setting can fill. */
const SETTINGS: Partial<Record<keyof SlurmSettings, string>> = {
  partition: 'partition',
  account: 'account',
  qos: 'qos',
  time: 'time',
  mem: 'mem',
  constraint: 'constraint',
  nodes: 'nodes',
  gpus_per_node: 'gpusPerNode',
  cpus_per_task: 'cpusPerTask',
  modules: 'modules',
  setup: 'setup',
  sbatch_args: 'sbatchArgs',
};

/** The settings that are set (non-empty), as defaults for keys an experiment file leaves out. */
export function slurmDefaults(): ExperimentDefaults {
  const config = vscode.workspace.getConfiguration('taiaLab.slurm');
  const out: ExperimentDefaults = {};
  for (const key of Object.keys(EXPERIMENT_SCHEMA.slurm.fields) as (keyof SlurmSettings)[]) {
    const name = SETTINGS[key];
    const value = name ? config.get<unknown>(name) : undefined;
    if (value === undefined || value === '' || value === 0 || (Array.isArray(value) && value.length === 0)) continue;
    out[`slurm.${key}`] = value;
  }
  return out;
}

/** The `slurm` section for an evaluation (no experiment file): the schema's defaults under the settings. */
export function evaluationSlurmSettings(): SlurmSettings {
  const given = slurmDefaults();
  return slurmSettings(
    Object.fromEntries(Object.entries(given).map(([k, v]) => [k.slice('slurm.'.length), v])) as Partial<SlurmSettings>,
  );
}

export function extensionLaunch(extensionPath: string): TrainerLaunch {
  return {
    node: process.execPath,
    trainer: path.join(extensionPath, 'dist', 'trainer.js'),
    env: pythonEnvironment() ?? {},
  };
}

export const slurmPollMs = (): number =>
  Math.max(1, vscode.workspace.getConfiguration('taiaLab.slurm').get<number>('pollSeconds') ?? 5) * 1000;
