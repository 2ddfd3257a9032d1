import * as path from 'node:path';
import * as vscode from 'vscode';
import { ExperimentError, loadExperiment } from '../../core/experiment/load';
import { createRun, isAlive, isFinished, readRunConfig, readStatus } from '../../core/runs/store';
import { scancel, SlurmError } from '../../core/slurm/commands';
import { submitRun } from '../../core/slurm/submit';
import { LOG_FILE } from '../../core/runs/types';
import { launchTrainer, TrainerHandle } from '../../trainer/client';
import { TrainerMessage } from '../../trainer/protocol';
import { pythonEnvironment } from '../shared/python';
import { RunNode, RunsTree } from './runsTree';
import { COMMANDS } from '../commands';
import { extensionLaunch, slurmDefaults } from './slurm';

/**
 * Runs started from this window: one trainer child process each, its log streamed to an output channel
 * and its progress to the status bar. Runs started elsewhere (another window, `taia train`, a window
 * before a reload) are followed through their run folder and can still be cancelled by pid.
 */
export class TrainingManager implements vscode.Disposable {
  private readonly handles = new Map<string, TrainerHandle>();
  private readonly latest = new Map<string, Extract<TrainerMessage, { type: 'progress' }>>();
  private readonly output = vscode.window.createOutputChannel('TAIA Lab: Training', 'log');
  private readonly statusBar = vscode.window.createStatusBarItem(
    'taiaLab.activeRun',
    vscode.StatusBarAlignment.Left,
    50,
  );
  private readonly subscription: vscode.Disposable;

  constructor(
    private readonly extensionPath: string,
    private readonly runs: RunsTree,
  ) {
    this.statusBar.name = 'TAIA Lab: active run';
    this.subscription = runs.onDidUpdate(() => this.showStatus());
  }

  /** Creates a run for an experiment file in the workspace folder that holds it and starts training. */
  async start(experimentFile: string): Promise<string | undefined> {
    const root =
      vscode.workspace.getWorkspaceFolder(vscode.Uri.file(experimentFile))?.uri.fsPath ?? path.dirname(experimentFile);
    let config;
    try {
      // Paths of a workspace's experiment file stay in the workspace unless the user allows otherwise.
      const allow = vscode.workspace
        .getConfiguration('taiaLab')
        .get<boolean>('training.allowPathsOutsideWorkspace', false);
      config = await loadExperiment(experimentFile, {
        workspace: allow ? undefined : root,
        allowHint: 'enable the setting taiaLab.training.allowPathsOutsideWorkspace',
        defaults: slurmDefaults(),
      });
    } catch (e) {
      if (!(e instanceof ExperimentError)) throw e;
      this.output.appendLine(e.message);
      void vscode.window.showErrorMessage(
        `${path.basename(experimentFile)} cannot be run: ${e.problems[0].message}${e.problems.length > 1 ? ` (and ${e.problems.length - 1} more, see the output)` : ''}`,
      );
      return undefined;
    }
    const { dir } = await createRun(root, config);
    if (config.launcher === 'slurm') await this.submit(dir);
    else this.launch(dir, false);
    return dir;
  }

  async resume(runDir: string): Promise<void> {
    // A Slurm run resumes as a new job, which finds its last checkpoint by itself.
    if ((await readRunConfig(runDir)).launcher === 'slurm') await this.submit(runDir);
    else this.launch(runDir, true);
  }

  /** Submits the run's job; a refusal (no sbatch, a rejected submission) is shown with Slurm's message as it is. */
  private async submit(runDir: string): Promise<void> {
    const name = path.basename(runDir);
    try {
      const status = await submitRun(runDir, await readRunConfig(runDir), extensionLaunch(this.extensionPath));
      this.output.appendLine(
        `── ${name}: submitted Slurm job ${status.slurm?.jobId} (script: ${status.slurm?.script}; output: ${status.slurm?.output})`,
      );
    } catch (e) {
      if (!(e instanceof SlurmError)) throw e;
      this.output.appendLine(`── ${name}: not submitted: ${e.message}`);
      void vscode.window.showErrorMessage(`Training run ${name} was not submitted: ${e.message}`);
    }
    await this.runs.refresh();
    this.runs.followSlurm();
  }

  /** Graceful stop: the trainer finishes its step and saves a checkpoint. */
  async cancel(runDir: string): Promise<void> {
    const handle = this.handles.get(runDir);
    if (handle) return handle.cancel();
    const status = await readStatus(runDir);
    // A Slurm job: scancel, which the trainer inside receives as SIGTERM (checkpoint, then stop).
    if (status.slurm?.jobId && !isFinished(status)) {
      await scancel(status.slurm.jobId).catch((e: Error) => void vscode.window.showErrorMessage(e.message));
      return this.runs.followSlurm();
    }
    // A run this window did not start: the trainer treats SIGTERM as cancel.
    if (status.state === 'running' && status.pid && isAlive(status.pid)) process.kill(status.pid, 'SIGTERM');
  }

  private launch(runDir: string, resume: boolean): void {
    const name = path.basename(runDir);
    this.output.appendLine(`── ${resume ? 'resuming' : 'starting'} ${name} (log: ${path.join(runDir, LOG_FILE)})`);
    const handle = launchTrainer({
      script: path.join(this.extensionPath, 'dist', 'trainer.js'),
      job: { runDir, resume },
      onMessage: (m) => this.onMessage(runDir, m),
      env: pythonEnvironment(),
    });
    this.handles.set(runDir, handle);
    void this.runs.refresh();
    void handle.outcome.then((outcome) => {
      this.handles.delete(runDir);
      this.latest.delete(runDir);
      this.output.appendLine(`── ${name}: ${outcome.state}${outcome.error ? `\n${outcome.error}` : ''}`);
      if (outcome.state === 'failed') {
        void vscode.window
          .showErrorMessage(`Training run ${name} failed: ${outcome.error?.split('\n')[0]}`, 'Show log')
          .then((pick) => pick && this.output.show());
      }
      void this.runs.refresh();
    });
  }

  private onMessage(runDir: string, m: TrainerMessage): void {
    const name = path.basename(runDir);
    if (m.type === 'log') this.output.appendLine(`[${name}] ${m.level === 'info' ? '' : `${m.level}: `}${m.message}`);
    else if (m.type === 'error') this.output.appendLine(`[${name}] error: ${m.message}`);
    else if (m.type === 'progress') {
      this.latest.set(runDir, m);
      this.showStatus();
    } else if (m.type === 'started' || m.type === 'done' || m.type === 'checkpoint') void this.runs.refresh();
  }

  /** The status bar shows the newest running run: live figures for our own, status.json for others. */
  private showStatus(): void {
    // Runs of other tools are not this extension's to show as the active run.
    const running = this.runs.current.find(
      (r) => !r.external && (r.status.state === 'running' || this.handles.has(r.dir)),
    );
    if (!running) return this.statusBar.hide();
    const live = this.latest.get(running.dir);
    const step = live?.step ?? running.status.step;
    const total = live?.totalSteps ?? running.status.totalSteps;
    const detail = live
      ? ` · loss ${live.loss.toFixed(3)}${live.tokensPerSecond !== undefined ? ` · ${Math.round(live.tokensPerSecond)} tok/s` : ''}`
      : '';
    this.statusBar.text = `$(sync~spin) ${running.status.name} ${step}/${total ?? '?'}${detail}`;
    this.statusBar.tooltip = `TAIA Lab: training run ${running.status.id}${live ? `, about ${Math.round(live.etaSeconds)} s left` : ''}. Click for its dashboard.`;
    this.statusBar.command = {
      command: COMMANDS.openRunDashboard,
      title: 'Open run dashboard',
      arguments: [running satisfies RunNode],
    };
    this.statusBar.show();
  }

  /** Whether this window has the run's trainer as its child. */
  owns(runDir: string): boolean {
    return this.handles.has(runDir);
  }

  dispose(): void {
    // The trainers are detached on purpose: closing or reloading the window does not stop training.
    this.subscription.dispose();
    this.output.dispose();
    this.statusBar.dispose();
  }
}
