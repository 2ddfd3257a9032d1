import * as path from 'node:path';
import * as vscode from 'vscode';
import { CheckpointSummary, inspectCheckpoint } from '../../core/checkpoint/discover';
import { DatasetSummary, detectDataset } from '../../core/datasets/detect';
import { DEFAULT_DATASET_INCLUDE, DEFAULT_EXCLUDE, isSkipped, scanWorkspace } from '../../core/workspace/scan';
import { mapLimit } from '../../core/util/mapLimit';

export interface CheckpointEntry {
  dir: string;
  summary?: CheckpointSummary;
  /** Why the folder could not be read (a corrupt header, say); the tree shows it instead of hiding it. */
  error?: string;
}

export interface DatasetEntry {
  file: string;
  summary?: DatasetSummary;
  error?: string;
}

/** Files whose creation, change or deletion can change what a folder is. */
const CHECKPOINT_FILES =
  '**/{config.json,model.safetensors,model.safetensors.index.json,adapter_config.json,adapter_model.safetensors,taia_merge.json,*.safetensors}';

/**
 * What the workspace holds: checkpoint folders and datasets, found by one walk per workspace folder and
 * then kept current from file-system watchers, re-reading only the folder or file that changed.
 */
export class WorkspaceIndex implements vscode.Disposable {
  private readonly checkpoints = new Map<string, CheckpointEntry>();
  private readonly datasets = new Map<string, DatasetEntry>();
  private readonly emitter = new vscode.EventEmitter<void>();
  private readonly disposables: vscode.Disposable[] = [this.emitter];
  private scanning: Promise<void> | undefined;
  private pending = new Set<string>();
  private flushTimer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  readonly onDidChange = this.emitter.event;

  constructor(private readonly log: vscode.OutputChannel) {
    const ckpt = vscode.workspace.createFileSystemWatcher(CHECKPOINT_FILES);
    const data = vscode.workspace.createFileSystemWatcher('**/*.{jsonl,json,parquet,txt}');
    // A folder created, renamed into place (a merge output) or deleted as a whole reports only itself:
    // watch creation and deletion of any path too.
    const any = vscode.workspace.createFileSystemWatcher('**/*', false, true, false);
    for (const w of [ckpt, data]) {
      this.disposables.push(
        w,
        w.onDidCreate((u) => this.touched(u)),
        w.onDidChange((u) => this.touched(u)),
        w.onDidDelete((u) => this.touched(u)),
      );
    }
    this.disposables.push(
      any,
      any.onDidCreate((u) => this.touched(u)),
      any.onDidDelete((u) => this.touched(u)),
    );
    this.disposables.push(
      vscode.workspace.onDidChangeWorkspaceFolders(() => this.refresh()),
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration('taiaLab.discovery')) this.refresh();
      }),
    );
  }

  /** Walks every workspace folder again. Concurrent calls share one walk. */
  refresh(): Promise<void> {
    this.scanning ??= this.scan().finally(() => (this.scanning = undefined));
    return this.scanning;
  }

  /** Resolves once the first walk is complete. */
  ready(): Promise<void> {
    return this.scanning ?? Promise.resolve();
  }

  get checkpointList(): CheckpointEntry[] {
    return [...this.checkpoints.values()].sort((a, b) => a.dir.localeCompare(b.dir));
  }

  get datasetList(): DatasetEntry[] {
    return [...this.datasets.values()].sort((a, b) => a.file.localeCompare(b.file));
  }

  private options() {
    const c = vscode.workspace.getConfiguration('taiaLab.discovery');
    return {
      exclude: c.get<string[]>('exclude', DEFAULT_EXCLUDE),
      datasetInclude: c.get<string[]>('datasetInclude', DEFAULT_DATASET_INCLUDE),
      maxDepth: c.get<number>('maxDepth', 12),
    };
  }

  private async scan(): Promise<void> {
    const started = Date.now();
    const checkpoints = new Map<string, CheckpointEntry>();
    const datasets = new Map<string, DatasetEntry>();
    for (const folder of vscode.workspace.workspaceFolders ?? []) {
      if (folder.uri.scheme !== 'file') continue;
      const found = await scanWorkspace(folder.uri.fsPath, this.options());
      await mapLimit(found.checkpoints, 16, async ({ dir }) => checkpoints.set(dir, await readCheckpoint(dir)));
      await mapLimit(found.datasetFiles, 16, async (file) => {
        const entry = await readDataset(file);
        if (entry) datasets.set(file, entry);
      });
    }
    replace(this.checkpoints, checkpoints);
    replace(this.datasets, datasets);
    this.log.appendLine(
      `discovery: ${checkpoints.size} checkpoints, ${datasets.size} datasets in ${Date.now() - started} ms`,
    );
    this.emitter.fire();
  }

  /** Batches watcher events (a merge writes several files) and re-reads only what they touched. */
  private touched(uri: vscode.Uri): void {
    if (uri.scheme !== 'file') return;
    this.pending.add(uri.fsPath);
    clearTimeout(this.flushTimer);
    // Flushes run one after another (a slow one finishing late must not re-add what a later one removed),
    // and a failed one does not stop the next: unreadable entries carry their own error.
    this.flushTimer = setTimeout(
      () => (this.flushing = this.flushing.then(() => this.flush()).catch(() => undefined)),
      300,
    );
  }

  private async flush(): Promise<void> {
    const options = this.options();
    const paths = [...this.pending].filter((p) => {
      const folder = vscode.workspace.getWorkspaceFolder(vscode.Uri.file(p));
      return folder !== undefined && !isSkipped(folder.uri.fsPath, p, options.exclude);
    });
    this.pending.clear();
    const dirs = new Set<string>();
    for (const p of paths) {
      // A new folder may hold whole checkpoints and datasets: walk it as discovery would.
      if (await isFolder(p)) {
        const found = await scanWorkspace(p, options);
        for (const { dir } of found.checkpoints) this.checkpoints.set(dir, await readCheckpoint(dir));
        for (const file of found.datasetFiles) {
          const entry = await readDataset(file);
          if (entry) this.datasets.set(file, entry);
        }
        continue;
      }
      if (/\.(safetensors|json)$/.test(p)) dirs.add(path.dirname(p));
      if (/\.(jsonl|json|parquet|txt)$/.test(p)) {
        const entry = await readDataset(p);
        if (entry && !this.checkpoints.has(path.dirname(p))) this.datasets.set(p, entry);
        else this.datasets.delete(p);
      }
    }
    for (const dir of dirs) {
      const found = await scanWorkspace(dir, { ...options, maxDepth: 0 });
      if (found.checkpoints.length > 0) {
        this.checkpoints.set(dir, await readCheckpoint(dir));
        for (const f of this.datasets.keys()) if (path.dirname(f) === dir) this.datasets.delete(f);
      } else {
        this.checkpoints.delete(dir);
      }
    }
    // A deleted folder takes its checkpoints and datasets with it.
    for (const p of paths) {
      if (await exists(p)) continue;
      const inside = (q: string) => q === p || q.startsWith(p + path.sep);
      for (const dir of [...this.checkpoints.keys()]) if (inside(dir)) this.checkpoints.delete(dir);
      for (const file of [...this.datasets.keys()]) if (inside(file)) this.datasets.delete(file);
    }
    this.emitter.fire();
  }

  dispose(): void {
    clearTimeout(this.flushTimer);
    for (const d of this.disposables) d.dispose();
  }
}

async function isFolder(p: string): Promise<boolean> {
  try {
    return (await vscode.workspace.fs.stat(vscode.Uri.file(p))).type === vscode.FileType.Directory;
  } catch {
    return false;
  }
}

async function exists(p: string): Promise<boolean> {
  try {
    await vscode.workspace.fs.stat(vscode.Uri.file(p));
    return true;
  } catch {
    return false;
  }
}

async function readCheckpoint(dir: string): Promise<CheckpointEntry> {
  try {
    return { dir, summary: await inspectCheckpoint(dir) };
  } catch (e) {
    return { dir, error: (e as Error).message };
  }
}

/** A dataset entry, or undefined when the file's content is not a dataset. */
async function readDataset(file: string): Promise<DatasetEntry | undefined> {
  try {
    const summary = await detectDataset(file);
    return summary.format === 'unknown' ? undefined : { file, summary };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? undefined : { file, error: (e as Error).message };
  }
}

function replace<K, V>(target: Map<K, V>, source: Map<K, V>): void {
  target.clear();
  for (const [k, v] of source) target.set(k, v);
}
