import { terminalSafe } from '../core/util/format';
import { formatBytes } from '../core/util/size';

/**
 * A terminal progress line on stderr: redrawn in place on a TTY, a line every few seconds otherwise
 * (CI logs), silent with `quiet`.
 */
export class ProgressLine {
  private lastPrint = 0;
  private readonly started = performance.now();
  private readonly tty = process.stderr.isTTY === true;

  constructor(
    private readonly label: string,
    private readonly quiet = false,
    /** How amounts are written: bytes by default, or e.g. steps. */
    private readonly amount: (n: number) => string = formatBytes,
  ) {}

  update(done: number, total: number, detail = ''): void {
    if (this.quiet) return;
    const now = performance.now();
    if (now - this.lastPrint < (this.tty ? 100 : 5000) && done < total) return;
    this.lastPrint = now;
    const frac = total > 0 ? done / total : 1;
    const secs = (now - this.started) / 1000;
    const rate = secs > 0 ? done / secs : 0;
    const width = 24;
    const bar = '#'.repeat(Math.round(frac * width)).padEnd(width, '.');
    const line = terminalSafe(
      `${this.label} [${bar}] ${(frac * 100).toFixed(0).padStart(3)}% ${this.amount(done)}/${this.amount(total)} ${this.amount(rate)}/s ${detail}`,
    );
    if (this.tty) process.stderr.write(`\r\x1b[K${line.slice(0, (process.stderr.columns ?? 120) - 1)}`);
    else process.stderr.write(line + '\n');
  }

  done(): void {
    if (!this.quiet && this.tty) process.stderr.write('\r\x1b[K');
  }
}
