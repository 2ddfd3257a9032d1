// Run study… and the study page. The study runs through core's runStudy with the trainer child process
// (the same evaluator as TAIA: Evaluate…) under one cancellable progress notification; the page shows
// the table, the scan heatmap and the exports from the study's output folder.
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { ExperimentError } from '../../core/experiment/load';
import { writtenVariant } from '../../core/merge/virtual';
import type { Correction } from '../../core/results/stats';
import { loadStudy } from '../../core/study/load';
import { studyTables } from '../../core/study/read';
import { runStudy, StudyEvaluator, studyOutputDir, VariantOutcome } from '../../core/study/run';
import { STUDY_SUFFIX } from '../../core/study/schema';
import { studyCsv, studyLatex } from '../../core/study/table';
import { evaluateAsSlurmJob } from '../../core/slurm/evaluate';
import { launchTrainer } from '../../trainer/client';
import type { FromWebview, StudyExport, StudyPageState, ToWebview } from '../../webview/study/protocol';
import { extensionLaunch, slurmDefaults, slurmPollMs } from '../runs/slurm';
import { pythonEnvironment } from '../shared/python';
import { loadPage, PanelHost, revealOrCreate } from '../shared/panelHost';
import { studyPageHtml } from './page';

export const STUDY_VIEW = 'taiaLab.study';

/** Run study… on a study file (Explorer, editor title, palette: the active editor's, else a pick). */
export async function runStudyCommand(
  context: vscode.ExtensionContext,
  output: vscode.OutputChannel,
  arg?: vscode.Uri | { file: string },
): Promise<{ outcomes: VariantOutcome[]; panel?: StudyPanel } | undefined> {
  if (!vscode.workspace.isTrusted) {
    void vscode.window.showWarningMessage(
      "Studies run only in trusted workspaces: they run the evaluator, or the study's evaluation command, on workspace files.",
    );
    return undefined;
  }
  const file = arg instanceof vscode.Uri ? arg.fsPath : (arg?.file ?? (await pickStudyFile()));
  if (!file) return undefined;
  let study;
  try {
    study = await loadStudy(file, slurmDefaults());
  } catch (e) {
    if (!(e instanceof ExperimentError)) throw e;
    output.appendLine(e.message);
    void vscode.window.showErrorMessage(`${path.basename(file)}: ${e.problems[0]?.message ?? e.message}`);
    return undefined;
  }
  const loaded = study;
  const outcomes = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `Study ${loaded.config.name}`, cancellable: true },
    async (progress, token) => {
      const log = (m: string) => output.appendLine(`[study ${loaded.config.name}] ${m}`);
      const evaluator: StudyEvaluator = {
        cancelled: () => token.isCancellationRequested,
        log,
        write: (spec) => writtenVariant(spec),
        evaluate: async (job) => {
          if (loaded.config.launcher === 'slurm') {
            const ended = await evaluateAsSlurmJob(job, loaded.config.slurm, extensionLaunch(context.extensionPath), {
              pollMs: slurmPollMs(),
              submitted: (s) => log(`${job.name}: submitted Slurm job ${s.jobId} (output: ${s.output})`),
              state: (line) => log(`${job.name}: ${line}`),
              cancelled: () => token.isCancellationRequested,
            });
            if (ended.state === 'failed') throw new Error(`evaluation of ${job.name} failed: ${ended.error}`);
            return ended.state === 'done' ? ended.results : undefined;
          }
          let results: string | undefined;
          const handle = launchTrainer({
            script: path.join(context.extensionPath, 'dist', 'trainer.js'),
            job: { evaluate: job },
            env: pythonEnvironment(),
            onMessage: (m) => {
              if (m.type === 'evalProgress')
                progress.report({ message: `${job.name}: ${m.task} ${m.done}/${m.total}` });
              else if (m.type === 'log') log(m.message);
              else if (m.type === 'done') results = m.results;
            },
          });
          const cancel = token.onCancellationRequested(() => handle.cancel());
          const outcome = await handle.outcome.finally(() => cancel.dispose());
          if (outcome.state === 'failed')
            throw new Error(`evaluation of ${job.name} failed: ${outcome.error?.split('\n')[0]}`);
          return outcome.state === 'done' ? results : undefined;
        },
        external: (line, cwd) =>
          new Promise((resolve, reject) => {
            const child = spawn(line, { shell: true, cwd, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
            child.stdout.on('data', (d: Buffer) => output.append(d.toString()));
            child.stderr.on('data', (d: Buffer) => output.append(d.toString()));
            const cancel = token.onCancellationRequested(() => child.pid && process.kill(-child.pid, 'SIGTERM'));
            child.on('error', (e) => reject(new Error(`the evaluation command could not start: ${e.message}`)));
            child.on('close', (code, signal) => {
              cancel.dispose();
              if (code === 0) resolve(true);
              else if (token.isCancellationRequested) resolve(false);
              else
                reject(
                  new Error(
                    `the evaluation command ${signal ? `stopped on ${signal}` : `exited with code ${code}`}; see the TAIA Lab output`,
                  ),
                );
            });
          }),
      };
      try {
        // Counted as they end: Slurm's jobs end in any order.
        let ended = 0;
        return await runStudy(loaded, evaluator, (o, _i, n) => {
          log(
            `[${++ended}/${n}] ${o.name}: ${o.state}${o.state === 'evaluated' ? ` in ${o.seconds.toFixed(1)} s` : ''}`,
          );
          progress.report({ message: `${ended}/${n} variants`, increment: 100 / n });
        });
      } catch (e) {
        void vscode.window.showErrorMessage(`Study ${loaded.config.name} stopped: ${(e as Error).message}`);
        return undefined;
      }
    },
  );
  if (!outcomes) return undefined;
  const panel = showStudyPage(context.extensionUri, studyOutputDir(loaded));
  if (outcomes.some((o) => o.state === 'cancelled'))
    void vscode.window.showInformationMessage(
      `Study ${loaded.config.name} cancelled; a re-run resumes where it stopped.`,
    );
  return { outcomes, panel };
}

async function pickStudyFile(): Promise<string | undefined> {
  const active = vscode.window.activeTextEditor?.document.uri;
  if (active?.fsPath.endsWith(STUDY_SUFFIX)) return active.fsPath;
  const files = await vscode.workspace.findFiles(`**/*${STUDY_SUFFIX}`, '**/node_modules/**', 200);
  if (files.length === 0) {
    void vscode.window.showInformationMessage(
      `No study file (*${STUDY_SUFFIX}) in the workspace; see the README for an example.`,
    );
    return undefined;
  }
  const pick = await vscode.window.showQuickPick(
    files.map((f) => ({ label: vscode.workspace.asRelativePath(f), file: f.fsPath })),
    { title: 'Run study' },
  );
  return pick?.file;
}

const panels = new Map<string, StudyPanel>();
const EXPORTS: Record<StudyExport, [string, string]> = { csv: ['csv', 'CSV'], latex: ['tex', 'LaTeX'] };

/** The study page of an output folder; the folder is read whenever the page loads. */
export class StudyPanel extends PanelHost<ToWebview> {
  constructor(
    panel: vscode.WebviewPanel,
    extensionUri: vscode.Uri,
    readonly dir: string,
  ) {
    super(panel, panels, dir);
    loadPage(panel, extensionUri, 'study', studyPageHtml, 'study.css');
    panel.webview.onDidReceiveMessage((m: FromWebview) => void this.onMessage(m));
  }

  private async onMessage(m: FromWebview): Promise<void> {
    try {
      if (m.type === 'ready') {
        this.readySignal.resolve();
        const { tables, problems } = await studyTables(this.dir);
        this.post({ type: 'init', dir: this.dir, tables, problems });
      } else if (m.type === 'rendered') this.renderedSignal.resolve(m.rows);
      else if (m.type === 'export') await this.save(m.format, m.correction);
    } catch (e) {
      this.post({ type: 'error', message: e instanceof Error ? e.message : String(e) });
    }
  }

  private async save(format: StudyExport, correction: Correction): Promise<void> {
    const { tables } = await studyTables(this.dir);
    const [ext, label] = EXPORTS[format];
    const target = await vscode.window.showSaveDialog({
      defaultUri: vscode.Uri.file(path.join(this.dir, `study.${ext}`)),
      filters: { [label]: [ext] },
    });
    if (target)
      await writeFile(target.fsPath, format === 'csv' ? studyCsv(tables[correction]) : studyLatex(tables[correction]));
  }
}

export function showStudyPage(extensionUri: vscode.Uri, dir: string): StudyPanel {
  return revealOrCreate(panels, dir, () => {
    const panel = vscode.window.createWebviewPanel(
      STUDY_VIEW,
      `Study: ${path.basename(dir)}`,
      vscode.ViewColumn.Active,
      { enableScripts: true, retainContextWhenHidden: false },
    );
    return new StudyPanel(panel, extensionUri, dir);
  });
}

/** Reopens study pages after a reload from the folder the page saved. */
export class StudyPanelSerializer implements vscode.WebviewPanelSerializer<StudyPageState> {
  constructor(private readonly extensionUri: vscode.Uri) {}

  async deserializeWebviewPanel(panel: vscode.WebviewPanel, state: StudyPageState | undefined): Promise<void> {
    if (!state?.dir) return panel.dispose();
    new StudyPanel(panel, this.extensionUri, state.dir);
  }
}
