// The workspace's checkpoints and datasets for path completion: one walk (scanWorkspace) per workspace
// folder, kept until the client reports changed files (workspace/didChangeWatchedFiles).
import { mapLimit } from '../core/util/mapLimit';
import type { DatasetSummary } from '../core/datasets/detect';
import type { CheckpointKind } from '../core/checkpoint/discover';
import { scanWorkspace, ScanResult } from '../core/workspace/scan';
import { datasetSummary } from './datasets';

/** Dataset candidates sniffed for completion at most; the rest are offered unchecked. */
const MAX_SNIFFED = 400;

export class WorkspaceFiles {
  private scan?: Promise<ScanResult>;

  constructor(private roots: string[]) {}

  setRoots(roots: string[]): void {
    this.roots = roots;
    this.invalidate();
  }

  /** Forgets the last walk; the next question walks again. */
  invalidate(): void {
    this.scan = undefined;
  }

  private result(): Promise<ScanResult> {
    this.scan ??= Promise.all(this.roots.map((r) => scanWorkspace(r))).then((all) => ({
      checkpoints: all.flatMap((r) => r.checkpoints),
      datasetFiles: all.flatMap((r) => r.datasetFiles),
    }));
    return this.scan;
  }

  async checkpoints(): Promise<{ dir: string; kind: CheckpointKind }[]> {
    return (await this.result()).checkpoints;
  }

  /** Candidate files whose content is a dataset (detections are cached per file version). */
  async datasets(): Promise<{ file: string; summary?: DatasetSummary }[]> {
    const files = (await this.result()).datasetFiles;
    const out: { file: string; summary?: DatasetSummary }[] = files.slice(MAX_SNIFFED).map((file) => ({ file }));
    await mapLimit(files.slice(0, MAX_SNIFFED), 4, async (file) => {
      const summary = await datasetSummary(file).catch(() => undefined);
      if (summary && summary.format !== 'unknown') out.push({ file, summary });
    });
    return out.sort((a, b) => a.file.localeCompare(b.file));
  }
}
