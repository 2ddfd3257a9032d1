// The one message contract between the extension host and the run comparison webview.
import type { RunData } from '../../core/runs/view';

export type { RunData };

export type ToWebview = { type: 'init'; runs: RunData[] } | { type: 'error'; message: string };

export type FromWebview =
  | { type: 'ready' }
  | { type: 'rendered'; runs: number }
  /** The table as shown (the "only what differs" filter applied), for the host to save. */
  | { type: 'export'; format: 'markdown' | 'csv'; content: string };

/** What the webview keeps with setState: the serializer reopens the same runs after a reload. */
export interface CompareState {
  runDirs: string[];
  onlyDiffers: boolean;
}
