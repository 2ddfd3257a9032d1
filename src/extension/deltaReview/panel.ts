import * as path from 'node:path';
import { writeFile } from 'node:fs/promises';
import * as vscode from 'vscode';
import type { DeltaReport } from '../../core/delta/diff';
import { CancelledError } from '../../core/errors';
import { RunningJob, startJob } from '../../core/util/worker';
import { diffToCsv, diffToMarkdown } from '../../core/delta/markdown';
import type { DeltaProgress, FromWebview, ReviewState, ToWebview } from '../../webview/deltaReview/protocol';
import { CheckpointNode, describeCheckpoint } from '../workspace/checkpointsTree';
import { csp, nonce } from '../shared/html';
import { reviewHtml } from './page';
import { CheckpointEntry, WorkspaceIndex } from '../workspace/workspaceIndex';

export const DELTA_REVIEW_VIEW = 'taiaLab.deltaReview';

/** Inputs of a review; also the argument form of the command, for scripts and tests. */
export interface ReviewArgs {
  base: string;
  finetuned: string;
  merged?: string;
  spectrum?: number;
}

/**
 * One review panel: HTML with a strict CSP and the webview bundle; the statistics come from a worker
 * thread and are forwarded tensor by tensor, so the heatmap fills in while they stream.
 */
export class DeltaReview {
  private job: RunningJob<DeltaReport> | undefined;
  private report: DeltaReport | undefined;

  constructor(
    private readonly panel: vscode.WebviewPanel,
    private readonly extensionUri: vscode.Uri,
  ) {
    panel.webview.options = {
      enableScripts: true,
      localResourceRoots: [
        vscode.Uri.joinPath(extensionUri, 'dist', 'webview'),
        vscode.Uri.joinPath(extensionUri, 'media'),
      ],
    };
    panel.webview.html = this.html();
    panel.webview.onDidReceiveMessage((m: FromWebview) => this.onMessage(m));
    panel.onDidDispose(() => this.job?.cancel());
  }

  // Declared before the promises that set them: class fields are defined in order.
  private resolveReady!: () => void;
  private resolveFinished!: (r: DeltaReport | undefined) => void;
  /** Resolves when the webview has loaded its script and can receive messages. */
  readonly ready = new Promise<void>((resolve) => (this.resolveReady = resolve));
  /** The final report once computed (tests and exports read it). */
  readonly finished = new Promise<DeltaReport | undefined>((resolve) => (this.resolveFinished = resolve));

  async start(args: ReviewArgs): Promise<void> {
    await this.ready;
    this.post({
      type: 'start',
      base: args.base,
      finetuned: args.finetuned,
      merged: args.merged,
      spectrum: args.spectrum ?? 0,
    });
    this.panel.title = args.merged ? `TAIA check: ${path.basename(args.merged)}` : `Δ ${path.basename(args.finetuned)}`;
    this.job = startJob<ReviewArgs, DeltaProgress, DeltaReport>(
      path.join(this.extensionUri.fsPath, 'dist', 'diff-worker.js'),
      args,
      (m) => this.post(m),
      'delta worker',
    );
    this.job.result
      .then(
        (report) => {
          this.report = report;
          this.post({ type: 'done', report });
        },
        (e: unknown) =>
          this.post(
            e instanceof CancelledError
              ? { type: 'cancelled' }
              : { type: 'error', message: e instanceof Error ? e.message : String(e) },
          ),
      )
      .finally(() => this.resolveFinished(this.report));
  }

  private post(m: ToWebview): void {
    void this.panel.webview.postMessage(m);
  }

  private async onMessage(m: FromWebview): Promise<void> {
    if (m.type === 'ready') this.resolveReady();
    else if (m.type === 'cancel') this.job?.cancel();
    else if (m.type === 'export' && this.report) {
      const ext = m.format === 'markdown' ? 'md' : 'csv';
      const target = await vscode.window.showSaveDialog({
        defaultUri: vscode.Uri.file(
          path.join(path.dirname(this.report.finetuned), `${path.basename(this.report.finetuned)}-delta.${ext}`),
        ),
        filters: m.format === 'markdown' ? { Markdown: ['md'] } : { CSV: ['csv'] },
      });
      if (target)
        await writeFile(target.fsPath, m.format === 'markdown' ? diffToMarkdown(this.report) : diffToCsv(this.report));
    }
  }

  private html(): string {
    const n = nonce();
    const webview = this.panel.webview;
    const script = webview.asWebviewUri(vscode.Uri.joinPath(this.extensionUri, 'dist', 'webview', 'deltaReview.js'));
    const style = webview.asWebviewUri(vscode.Uri.joinPath(this.extensionUri, 'media', 'deltaReview.css'));
    return reviewHtml(csp(webview, n), n, String(script), String(style));
  }
}

/** Restores review panels after a reload: a finished review redraws from its saved state; an unfinished one runs again. */
export class DeltaReviewSerializer implements vscode.WebviewPanelSerializer<ReviewState> {
  constructor(private readonly extensionUri: vscode.Uri) {}

  async deserializeWebviewPanel(panel: vscode.WebviewPanel, state: ReviewState | undefined): Promise<void> {
    const review = new DeltaReview(panel, this.extensionUri);
    if (state && state.status !== 'done' && state.base && state.finetuned)
      await review.start({ base: state.base, finetuned: state.finetuned, merged: state.merged });
  }
}

async function pick(entries: CheckpointEntry[], title: string, prefer?: string): Promise<CheckpointEntry | undefined> {
  const items = entries.map((e) => ({
    label: path.basename(e.dir),
    description: e.summary ? describeCheckpoint(e.summary) : '',
    detail: e.dir,
    entry: e,
  }));
  items.sort(
    (a, b) =>
      Number(prefer !== undefined && b.entry.dir.endsWith(prefer)) -
      Number(prefer !== undefined && a.entry.dir.endsWith(prefer)),
  );
  return (await vscode.window.showQuickPick(items, { title, matchOnDetail: true }))?.entry;
}

/** What to compare for a tree node: a merged output against its recorded inputs, anything else against a chosen base. */
async function resolveArgs(index: WorkspaceIndex, node: CheckpointNode | undefined): Promise<ReviewArgs | undefined> {
  await index.ready();
  const readable = index.checkpointList.filter((e) => e.summary);
  let target = node?.type === 'checkpoint' ? node.entry : undefined;
  target ??= await pick(readable, 'Weight-delta review: the fine-tuned model, LoRA adapter or merged output');
  if (!target?.summary) return undefined;
  const merge = target.summary.merge;
  if (merge) {
    const base = merge.inputs.find((i) => i.role === 'base')?.path;
    const ft = merge.inputs.find((i) => i.role === 'finetuned')?.path;
    if (base && ft) return { base, finetuned: ft, merged: target.dir };
  }
  const models = readable.filter((e) => e.summary!.kind !== 'adapter' && e.dir !== target!.dir);
  const base = await pick(
    models,
    `Weight-delta review: the base model of ${path.basename(target.dir)}`,
    target.summary.adapter?.baseModel,
  );
  return base ? { base: base.dir, finetuned: target.dir } : undefined;
}

/** TAIA: Inspect weight deltas… — opens a review panel; returns it (for tests and other extensions). */
export async function inspectDeltasCommand(
  context: vscode.ExtensionContext,
  index: WorkspaceIndex,
  arg?: CheckpointNode | ReviewArgs,
): Promise<DeltaReview | undefined> {
  const direct = arg && 'base' in arg ? arg : undefined;
  const args = direct ?? (await resolveArgs(index, arg as CheckpointNode | undefined));
  if (!args) return undefined;
  const spectrum =
    args.spectrum ?? vscode.workspace.getConfiguration('taiaLab.deltaReview').get<number>('spectrumRank', 4);
  const panel = vscode.window.createWebviewPanel(
    DELTA_REVIEW_VIEW,
    args.merged ? `TAIA check: ${path.basename(args.merged)}` : `Δ ${path.basename(args.finetuned)}`,
    vscode.ViewColumn.Active,
    { enableScripts: true, retainContextWhenHidden: false },
  );
  const review = new DeltaReview(panel, context.extensionUri);
  await review.start({ ...args, spectrum });
  return review;
}
