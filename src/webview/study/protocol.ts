// The one message contract between the extension host and the study page.
import type { Correction } from '../../core/results/stats';
import type { StudyTable } from '../../core/study/table';

export type StudyExport = 'csv' | 'latex';

export type ToWebview =
  /** The study's table under each correction (the page switches without asking), and what could not be read. */
  | { type: 'init'; dir: string; tables: Record<Correction, StudyTable>; problems: string[] }
  | { type: 'error'; message: string };

export type FromWebview =
  | { type: 'ready' }
  | { type: 'rendered'; rows: number; heatmap: number }
  /** The host writes the export of the table under this correction to a file the user picks. */
  | { type: 'export'; format: StudyExport; correction: Correction };

/** What the page keeps with setState: the serializer reopens the same study after a reload. */
export interface StudyPageState {
  dir: string;
  correction?: Correction;
}
