import { throwIfAborted } from '../errors';

/**
 * Processes `count` chunks with one read ahead: chunk i+1 is read while chunk i is processed, so disk
 * reads overlap computation and writes. `read` receives the slot (0 or 1) whose buffers it may fill;
 * a slot is reused only after its chunk was processed.
 */
export async function readAhead<T>(
  count: number,
  read: (index: number, slot: 0 | 1) => Promise<T>,
  process: (data: T, index: number) => Promise<void>,
  signal?: AbortSignal,
): Promise<void> {
  let next: Promise<T> | undefined = count > 0 ? read(0, 0) : undefined;
  try {
    for (let i = 0; i < count; i++) {
      const data = await next!;
      throwIfAborted(signal);
      next = i + 1 < count ? read(i + 1, ((i + 1) % 2) as 0 | 1) : undefined;
      await process(data, i);
    }
  } catch (e) {
    // A read still in flight must not surface as an unhandled rejection.
    next?.catch(() => undefined);
    throw e;
  }
}
