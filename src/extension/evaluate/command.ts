import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { evaluationCommandLine } from '../../core/eval/command';
import type { SlurmSettings } from '../../core/experiment/schema';
import { SlurmError } from '../../core/slurm/commands';
import { evaluateAsSlurmJob } from '../../core/slurm/evaluate';
import { evaluationSlurmSettings, extensionLaunch, slurmPollMs } from '../runs/slurm';
import { launchTrainer } from '../../trainer/client';
import type { EvaluateJob } from '../../trainer/protocol';
import type { CheckpointNode } from '../workspace/checkpointsTree';
import { experimentRun } from '../shared/experimentTargets';
import { pythonEnvironment } from '../shared/python';
import type { WorkspaceIndex } from '../workspace/workspaceIndex';
import { warnUntrusted } from '../shared/trust';
import { resultFileFor } from '../../core/results/accumulate';
import { formatValue } from '../../core/results/format';
import { loadResults } from '../../core/results/load';
import { pickPath } from '../shared/pathPicker';

/** Where evaluations write, relative to the workspace folder: the Benchmarks view finds them there. */
export const RESULTS_DIR = '.taia/results';

/** Arguments for calling TAIA: Evaluate… programmatically (tests, code lenses, other extensions). */
export interface EvaluateArgs {
  checkpoint?: string;
  tasks?: string[];
  /** Run the command of `taiaLab.evaluation.command` instead of the built-in evaluator. */
  external?: boolean;
  name?: string;
  maxNewTokens?: number;
  /** The built-in evaluator's engine; default: taiaLab.evaluation.engine. */
  engine?: EvaluateJob['engine'];
  /**
   * An experiment file (its Evaluate lens): its `eval.tasks` and `engine`, and a checkpoint picked from
   * its newest run, that run's merges and its base.
   */
  experiment?: string;
  /** Where the evaluator runs; default: the experiment's launcher, else taiaLab.evaluation.launcher. */
  launcher?: 'local' | 'slurm';
  /** The Slurm job's settings (an experiment's `slurm` section); default: the taiaLab.slurm.* settings. */
  slurm?: SlurmSettings;
}

/**
 * TAIA: Evaluate… — the built-in evaluator (in the trainer's child process) on task files, or the
 * external command of a setting (e.g. lm-evaluation-harness on a GPU box). Both write under
 * .taia/results/, where the Benchmarks view picks the results up. Refused in untrusted workspaces:
 * the external command is workspace configuration that runs programs.
 * Returns the result file (built-in) or the output folder (external), or undefined.
 */
export async function evaluateCommand(
  extensionPath: string,
  index: WorkspaceIndex,
  output: vscode.OutputChannel,
  arg?: CheckpointNode | EvaluateArgs,
): Promise<string | undefined> {
  if (!vscode.workspace.isTrusted) {
    warnUntrusted(
      'Evaluation runs only in trusted workspaces: it runs the evaluator, or a configured command, on workspace files.',
    );
    return undefined;
  }
  const folder = vscode.workspace.workspaceFolders?.[0];
  if (!folder) return undefined;
  const args: EvaluateArgs =
    arg && 'type' in arg
      ? { checkpoint: arg.type === 'checkpoint' ? arg.entry.dir : undefined }
      : { ...(arg as EvaluateArgs | undefined) };
  const settings = vscode.workspace.getConfiguration('taiaLab.evaluation');
  const command = settings.get<string>('command', '').trim();
  if (args.experiment && !(await fromExperiment(args, index))) return undefined;
  const engine = args.engine ?? settings.get<EvaluateJob['engine']>('engine', 'tfjs');
  if (args.external === undefined && command) {
    const mode = await vscode.window.showQuickPick(
      [
        {
          label: 'Built-in evaluator',
          description: `task files (JSONL), ${engine === 'torch' ? 'PyTorch' : 'TAIA Lab'} engine`,
          external: false,
        },
        { label: 'External command', description: command, external: true },
      ],
      { title: 'Evaluate with' },
    );
    if (!mode) return undefined;
    args.external = mode.external;
  }
  args.checkpoint ??= await pickCheckpoint(index);
  if (!args.checkpoint) return undefined;
  const name = args.name ?? path.basename(args.checkpoint);
  if (args.external)
    return runExternal(
      command,
      args.checkpoint,
      path.join(folder.uri.fsPath, RESULTS_DIR, name),
      args.tasks ?? [],
      output,
    );
  args.tasks ??= (
    await vscode.window.showOpenDialog({
      canSelectMany: true,
      filters: { 'Task files': ['jsonl'] },
      title: 'Evaluation task files (JSONL)',
      defaultUri: folder.uri,
    })
  )?.map((u) => u.fsPath);
  if (!args.tasks?.length) return undefined;
  // Evaluations of one checkpoint add up in one file; another checkpoint of the same name gets its own.
  const target = await resultFileFor(path.join(folder.uri.fsPath, RESULTS_DIR), name, args.checkpoint);
  const job: EvaluateJob = {
    checkpoint: args.checkpoint,
    tasks: args.tasks,
    out: target.file,
    name: target.name,
    maxNewTokens: args.maxNewTokens ?? 64,
    limit: 0,
    engine,
    device: 'auto',
    backend: 'auto',
  };
  if ((args.launcher ?? settings.get<string>('launcher', 'local')) === 'slurm')
    return runOnSlurm(extensionPath, job, args.slurm ?? evaluationSlurmSettings(), output);
  return runBuiltIn(extensionPath, job, output);
}

/** Fills `args` from its experiment; false (after saying why) when the experiment has nothing to evaluate. */
async function fromExperiment(args: EvaluateArgs, index: WorkspaceIndex): Promise<boolean> {
  const target = await experimentRun(args.experiment!);
  if (!target) return false;
  // A run of another tool's command is evaluated by the default engine.
  if (target.config.engine !== 'command') args.engine ??= target.config.engine;
  if (target.config.launcher === 'slurm') {
    args.launcher ??= 'slurm';
    args.slurm ??= target.config.slurm;
  }
  if (!args.tasks && target.config.eval.tasks.length) args.tasks = target.config.eval.tasks;
  if (args.checkpoint) return true;
  await index.ready();
  const merges = index.checkpointList.filter((e) => e.dir.startsWith(target.mergedPrefix)).map((e) => e.dir);
  const candidates = [
    {
      label: path.basename(target.checkpoint),
      description: `newest run, ${path.basename(target.runDir)}`,
      dir: target.checkpoint,
    },
    ...merges.map((dir) => ({ label: path.basename(dir), description: 'merge of that run', dir })),
    { label: path.basename(target.config.base), description: 'base model', dir: target.config.base },
  ];
  args.checkpoint = (
    await vscode.window.showQuickPick(candidates, { title: `Evaluate ${path.basename(args.experiment!)}: which model` })
  )?.dir;
  return args.checkpoint !== undefined;
}

async function pickCheckpoint(index: WorkspaceIndex): Promise<string | undefined> {
  await index.ready();
  const items = index.checkpointList
    .filter((e) => e.summary)
    .map((e) => ({ label: path.basename(e.dir), description: vscode.workspace.asRelativePath(e.dir), path: e.dir }));
  return pickPath(items, {
    title: 'Evaluate: checkpoint (model, adapter or merged output)',
    missing: 'No checkpoints found in the workspace (Hugging Face model folders, LoRA adapters, merged outputs)',
    folders: true,
  });
}

function runBuiltIn(
  extensionPath: string,
  job: EvaluateJob,
  output: vscode.OutputChannel,
): Thenable<string | undefined> {
  return vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `Evaluating ${job.name}`, cancellable: true },
    async (progress, token) => {
      let results: string | undefined;
      let last = 0;
      let started: number | undefined;
      const handle = launchTrainer({
        script: path.join(extensionPath, 'dist', 'trainer.js'),
        job: { evaluate: job },
        env: pythonEnvironment(),
        onMessage: (m) => {
          if (m.type === 'evalProgress') {
            started ??= Date.now();
            const seconds = (Date.now() - started) / 1000;
            // The first batch also loads the model: no estimate until a few examples are in.
            const eta =
              m.done >= 2 && seconds > 0 ? ` · about ${Math.ceil((seconds / m.done) * (m.total - m.done))} s left` : '';
            progress.report({
              message: `${m.task}: ${m.done} of ${m.total} examples${eta}`,
              increment: ((m.done - last) / m.total) * 100,
            });
            last = m.done;
          } else if (m.type === 'log') output.appendLine(`[eval ${job.name}] ${m.message}`);
          else if (m.type === 'done') results = m.results;
        },
      });
      token.onCancellationRequested(() => handle.cancel());
      const outcome = await handle.outcome;
      if (outcome.state === 'failed')
        void vscode.window.showErrorMessage(`Evaluation of ${job.name} failed: ${outcome.error?.split('\n')[0]}`);
      if (outcome.state === 'cancelled')
        void vscode.window.showInformationMessage(`Evaluation of ${job.name} cancelled; nothing was written.`);
      if (results) {
        output.appendLine(`[eval ${job.name}] results: ${results}`);
        void announce(job, results);
      }
      return results;
    },
  );
}

/** The built-in evaluator as a Slurm job, followed under a progress notification; Cancel is scancel. */
function runOnSlurm(
  extensionPath: string,
  job: EvaluateJob,
  settings: SlurmSettings,
  output: vscode.OutputChannel,
): Thenable<string | undefined> {
  return vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `Evaluating ${job.name} on Slurm`, cancellable: true },
    async (progress, token) => {
      try {
        const ended = await evaluateAsSlurmJob(job, settings, extensionLaunch(extensionPath), {
          pollMs: slurmPollMs(),
          submitted: (s) =>
            output.appendLine(
              `[eval ${job.name}] submitted Slurm job ${s.jobId} (script: ${s.script}; output: ${s.output})`,
            ),
          state: (line) => progress.report({ message: line }),
          cancelled: () => token.isCancellationRequested,
        });
        if (ended.state === 'failed') {
          output.appendLine(`[eval ${job.name}] ${ended.error}`);
          void vscode.window.showErrorMessage(`Evaluation of ${job.name} failed: ${ended.error.split('\n')[0]}`);
          return undefined;
        }
        if (ended.state === 'cancelled') {
          output.appendLine(`[eval ${job.name}] job ${ended.jobId} cancelled`);
          return undefined;
        }
        output.appendLine(`[eval ${job.name}] results: ${job.out}`);
        return job.out;
      } catch (e) {
        if (!(e instanceof SlurmError)) throw e;
        void vscode.window.showErrorMessage(`Evaluation of ${job.name} was not submitted: ${e.message}`);
        return undefined;
      }
    },
  );
}

/** Says that an evaluation finished, with its scores and the tasks its result file now holds. */
async function announce(job: EvaluateJob, file: string): Promise<void> {
  const [model] = await loadResults(file).catch(() => []);
  const fresh = new Set(job.tasks.map((t) => path.basename(t).replace(/\.jsonl?$/, '')));
  const scores = [...(model?.tasks ?? [])]
    .filter(([task]) => fresh.has(task))
    .map(([task, r]) => {
      const [metric, m] = [...r.metrics][0] ?? [];
      return metric
        ? `${task} ${metric} ${formatValue(m.value, m.scale === 'percent' ? 'percent' : 'fraction')}`
        : task;
    });
  const all = model ? [...model.tasks.keys()] : [];
  const choice = await vscode.window.showInformationMessage(
    `Evaluation of ${job.name} finished: ${scores.join(', ') || 'no scores'}. ${vscode.workspace.asRelativePath(file)} holds ${all.length} task${all.length === 1 ? '' : 's'}${all.length ? ` (${all.join(', ')})` : ''}.`,
    'Show in Benchmarks',
    'Open file',
  );
  if (choice === 'Show in Benchmarks') await vscode.commands.executeCommand('taiaLab.benchmarks.focus');
  else if (choice === 'Open file') await vscode.window.showTextDocument(vscode.Uri.file(file));
}

/**
 * Runs the configured command through the shell in the workspace folder, with `${checkpoint}`,
 * `${tasks}` (comma-separated) and `${output}` (a folder under .taia/results/) substituted, each
 * shell-quoted. Its output streams to the output channel; cancelling stops its whole process group.
 */
function runExternal(
  template: string,
  checkpoint: string,
  outDir: string,
  tasks: string[],
  output: vscode.OutputChannel,
): Thenable<string | undefined> {
  if (!template) {
    void vscode.window.showWarningMessage('Set taiaLab.evaluation.command to run an external evaluation.');
    return Promise.resolve(undefined);
  }
  mkdirSync(outDir, { recursive: true });
  const line = evaluationCommandLine(template, { checkpoint, output: outDir, tasks });
  output.appendLine(`$ ${line}`);
  output.show(true);
  return vscode.window.withProgress(
    {
      location: vscode.ProgressLocation.Notification,
      title: `Evaluating ${path.basename(checkpoint)} (external)`,
      cancellable: true,
    },
    (_progress, token) => {
      return new Promise<string | undefined>((resolve) => {
        const child = spawn(line, {
          shell: true,
          cwd: vscode.workspace.workspaceFolders?.[0].uri.fsPath,
          detached: true,
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        child.stdout.on('data', (d: Buffer) => output.append(d.toString()));
        child.stderr.on('data', (d: Buffer) => output.append(d.toString()));
        token.onCancellationRequested(() => child.pid && process.kill(-child.pid, 'SIGTERM'));
        child.on('error', (e) => {
          void vscode.window.showErrorMessage(`The evaluation command could not start: ${e.message}`);
          resolve(undefined);
        });
        child.on('close', (code, signal) => {
          output.appendLine(`[exit ${signal ?? code}]`);
          if (code !== 0)
            void vscode.window.showErrorMessage(
              `The evaluation command ${signal ? `stopped on ${signal}` : `exited with code ${code}`}; see the TAIA Lab output.`,
            );
          resolve(code === 0 ? outDir : undefined);
        });
      });
    },
  );
}
