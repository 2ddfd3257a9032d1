// Follows a run's metrics.jsonl as the trainer appends to it: each read returns only what is new.
import { open } from 'node:fs/promises';
import { MetricRecord } from './types';

/**
 * The complete lines of metrics.jsonl after byte `offset`, and where the next read starts. A line the
 * trainer is still writing stays for the next read; a shorter file than `offset` (rewritten) returns undefined.
 */
export async function readAppended(
  file: string,
  offset: number,
): Promise<{ records: MetricRecord[]; offset: number } | undefined> {
  let handle;
  try {
    handle = await open(file, 'r');
  } catch {
    return offset === 0 ? { records: [], offset } : undefined;
  }
  try {
    const { size } = await handle.stat();
    if (size < offset) return undefined;
    const buf = Buffer.alloc(size - offset);
    await handle.read(buf, 0, buf.length, offset);
    const end = buf.lastIndexOf(0x0a);
    if (end < 0) return { records: [], offset };
    const records: MetricRecord[] = [];
    for (const line of buf.subarray(0, end).toString('utf-8').split('\n')) {
      try {
        if (line.trim()) records.push(JSON.parse(line) as MetricRecord);
      } catch {
        // A corrupt line (a crash mid-write before a resume) loses one point, not the chart.
      }
    }
    return { records, offset: offset + end + 1 };
  } finally {
    await handle.close();
  }
}
