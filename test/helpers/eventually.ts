/** Waits until `check` passes (watchers and scans are asynchronous), failing with its last error. */
export async function eventually<T>(check: () => T | Promise<T>, ms = 10000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    try {
      return await check();
    } catch (e) {
      if (Date.now() > end) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
