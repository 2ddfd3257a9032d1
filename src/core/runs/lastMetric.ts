import { open } from 'node:fs/promises';
import * as path from 'node:path';
import { METRICS_FILE, MetricRecord } from './types';

/** How much of the end of metrics.jsonl is read for its last record: one record is well under 1 KiB. */
const TAIL_BYTES = 4096;

/** The last complete record of a run's metrics.jsonl, read from its end; undefined when there is none yet. */
export async function lastMetric(runDir: string): Promise<MetricRecord | undefined> {
  let handle;
  try {
    handle = await open(path.join(runDir, METRICS_FILE), 'r');
  } catch {
    return undefined;
  }
  try {
    const { size } = await handle.stat();
    const start = Math.max(0, size - TAIL_BYTES);
    const buf = Buffer.alloc(size - start);
    await handle.read(buf, 0, buf.length, start);
    // The last line may be one the trainer is still writing: take the last that parses.
    const lines = buf.toString('utf-8').split('\n').reverse();
    for (const line of lines) {
      try {
        if (line.trim()) return JSON.parse(line) as MetricRecord;
      } catch {
        // a partial line
      }
    }
    return undefined;
  } finally {
    await handle.close();
  }
}
