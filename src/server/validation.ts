// Runs a document's check at most once per quiet period (debounced per document) and publishes only
// the newest result: an edit made while an older check reads the disk makes that check's result moot.

export class DebouncedValidator<R> {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly generations = new Map<string, number>();

  constructor(
    private readonly check: (uri: string) => Promise<R | undefined>,
    private readonly publish: (uri: string, result: R) => void,
    private readonly onError: (uri: string, error: unknown) => R,
    private readonly delayMs = 150,
  ) {}

  schedule(uri: string): void {
    clearTimeout(this.timers.get(uri));
    this.timers.set(
      uri,
      setTimeout(() => void this.run(uri), this.delayMs),
    );
  }

  /** Checks now, skipping the delay; resolves once the result is published (or dropped as stale). */
  async run(uri: string): Promise<void> {
    clearTimeout(this.timers.get(uri));
    this.timers.delete(uri);
    const generation = (this.generations.get(uri) ?? 0) + 1;
    this.generations.set(uri, generation);
    let result: R | undefined;
    try {
      result = await this.check(uri);
    } catch (e) {
      result = this.onError(uri, e);
    }
    if (result !== undefined && this.generations.get(uri) === generation) this.publish(uri, result);
  }

  /** Stops pending work for a closed document; a check still running is dropped when it ends. */
  forget(uri: string): void {
    clearTimeout(this.timers.get(uri));
    this.timers.delete(uri);
    this.generations.set(uri, (this.generations.get(uri) ?? 0) + 1);
  }
}
