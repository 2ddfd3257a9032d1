import * as path from 'node:path';
import * as vscode from 'vscode';
import { detectResultFile, loadResults, RESULT_FILE_GLOBS, RESULT_FILE_WATCH } from '../../core/results/load';
import { ModelResults, ResultFormat } from '../../core/results/types';
import { mapLimit } from '../../core/util/mapLimit';
import { DEFAULT_EXCLUDE, isSkipped, scanWorkspace } from '../../core/workspace/scan';

export interface ResultEntry {
  file: string;
  format: ResultFormat;
  /** One per model the file holds (scores only: per-example records are read when a diff needs them). */
  models?: ModelResults[];
  /** Why the file could not be read; the Benchmarks view shows it instead of hiding the file. */
  error?: string;
}

/**
 * The benchmark result files of the workspace: one walk per workspace folder (the discovery settings
 * apply), then kept current by a watcher that re-reads only the files it reports. Separate from the
 * checkpoint and dataset index: results are small files read whole, and a change to one must not
 * re-read checkpoints.
 */
export class ResultsIndex implements vscode.Disposable {
  private readonly entries = new Map<string, ResultEntry>();
  private readonly emitter = new vscode.EventEmitter<void>();
  private readonly disposables: vscode.Disposable[] = [this.emitter];
  private scanning: Promise<void> | undefined;
  private readonly pending = new Set<string>();
  private flushTimer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  readonly onDidChange = this.emitter.event;

  constructor() {
    const files = vscode.workspace.createFileSystemWatcher(RESULT_FILE_WATCH);
    // A folder of results copied in or deleted as a whole reports only the folder.
    const folders = vscode.workspace.createFileSystemWatcher('**/*', false, true, false);
    const touched = (u: vscode.Uri) => this.touched(u);
    this.disposables.push(
      files,
      folders,
      files.onDidCreate(touched),
      files.onDidChange(touched),
      files.onDidDelete(touched),
      folders.onDidCreate(touched),
      folders.onDidDelete(touched),
    );
    this.disposables.push(
      vscode.workspace.onDidChangeWorkspaceFolders(() => this.refresh()),
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration('taiaLab.discovery')) void this.refresh();
      }),
    );
  }

  get list(): ResultEntry[] {
    return [...this.entries.values()].sort((a, b) => a.file.localeCompare(b.file));
  }

  /** Walks every workspace folder again; concurrent calls share one walk. */
  refresh(): Promise<void> {
    // In the same queue as the watcher flushes, so a full scan and an incremental update never interleave.
    this.scanning ??= this.enqueue(() => this.scan()).finally(() => (this.scanning = undefined));
    return this.scanning;
  }

  /** Runs scans and watcher flushes one after another; a failed one does not stop the next (entries carry their errors). */
  private enqueue(task: () => Promise<void>): Promise<void> {
    const run = this.flushing.then(task);
    this.flushing = run.catch(() => undefined);
    return run;
  }

  /** Resolves once the walk under way (if any) is complete. */
  ready(): Promise<void> {
    return this.scanning ?? Promise.resolve();
  }

  private options() {
    const c = vscode.workspace.getConfiguration('taiaLab.discovery');
    return {
      exclude: c.get<string[]>('exclude', DEFAULT_EXCLUDE),
      maxDepth: c.get<number>('maxDepth', 12),
      datasetInclude: RESULT_FILE_GLOBS,
    };
  }

  /** Candidate files under `root` by name (the dataset walk, with result-file globs), then read. */
  private async collect(root: string, into: Map<string, ResultEntry>, maxDepth?: number): Promise<void> {
    const options = this.options();
    const found = await scanWorkspace(root, { ...options, maxDepth: maxDepth ?? options.maxDepth });
    await mapLimit(found.datasetFiles, 16, async (file) => {
      const entry = await readEntry(file);
      if (entry) into.set(file, entry);
    });
  }

  private async scan(): Promise<void> {
    const found = new Map<string, ResultEntry>();
    for (const folder of vscode.workspace.workspaceFolders ?? [])
      if (folder.uri.scheme === 'file') await this.collect(folder.uri.fsPath, found);
    this.entries.clear();
    for (const [k, v] of found) this.entries.set(k, v);
    this.emitter.fire();
  }

  /** Batches watcher events (an evaluator writes several files) and re-reads only what they touched. */
  private touched(uri: vscode.Uri): void {
    if (uri.scheme !== 'file') return;
    this.pending.add(uri.fsPath);
    clearTimeout(this.flushTimer);
    // Queued: a slow flush finishing late must not re-add what a later one removed.
    this.flushTimer = setTimeout(() => void this.enqueue(() => this.flush()).catch(() => undefined), 300);
  }

  private async flush(): Promise<void> {
    const { exclude } = this.options();
    const paths = [...this.pending].filter((p) => {
      const folder = vscode.workspace.getWorkspaceFolder(vscode.Uri.file(p));
      return folder !== undefined && !isSkipped(folder.uri.fsPath, p, exclude);
    });
    this.pending.clear();
    let changed = false;
    for (const p of paths) {
      const type = await fileType(p);
      if (type === vscode.FileType.Directory) {
        const before = this.entries.size;
        await this.collect(p, this.entries);
        changed ||= this.entries.size !== before;
      } else if (type === vscode.FileType.File) {
        // Any file created anywhere comes through the folder watcher: only result files change the view.
        const entry = await readEntry(p);
        if (entry) this.entries.set(p, entry);
        if (entry || this.entries.delete(p)) changed = true;
      } else {
        // Gone: the file, or a folder with everything in it.
        for (const f of [...this.entries.keys()]) {
          if (f === p || f.startsWith(p + path.sep)) {
            this.entries.delete(f);
            changed = true;
          }
        }
      }
    }
    if (changed) this.emitter.fire();
  }

  dispose(): void {
    clearTimeout(this.flushTimer);
    for (const d of this.disposables) d.dispose();
  }
}

async function fileType(p: string): Promise<vscode.FileType | undefined> {
  try {
    return (await vscode.workspace.fs.stat(vscode.Uri.file(p))).type;
  } catch {
    return undefined;
  }
}

/** An entry, or undefined when the file is not a result file; a result file that does not parse keeps its error. */
export async function readEntry(file: string): Promise<ResultEntry | undefined> {
  const format = await detectResultFile(file);
  if (!format) return undefined;
  try {
    return { file, format, models: await loadResults(file) };
  } catch (e) {
    return { file, format, error: e instanceof Error ? e.message : String(e) };
  }
}
