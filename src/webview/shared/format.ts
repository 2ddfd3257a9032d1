// Number and time formats shared by the run webviews and their exports.

/** Four significant digits; tiny and huge values in exponent form (learning rates, NaN losses). */
export function num(x: number | undefined): string {
  if (x === undefined) return '—';
  if (!Number.isFinite(x)) return String(x);
  if (x === 0) return '0';
  const a = Math.abs(x);
  return a < 1e-3 || a >= 1e6 ? x.toExponential(2) : String(Number(x.toPrecision(4)));
}

/** Whole numbers with thousands separators (tokens/s, steps). */
export function int(x: number | undefined): string {
  return x === undefined || !Number.isFinite(x) ? '—' : Math.round(x).toLocaleString('en-US');
}

/** "12 s", "3 min 05 s", "2 h 07 min". */
export function duration(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds) || seconds < 0) return '—';
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  const pad = (n: number) => String(n).padStart(2, '0');
  if (s < 3600) return `${Math.floor(s / 60)} min ${pad(s % 60)} s`;
  return `${Math.floor(s / 3600)} h ${pad(Math.floor((s % 3600) / 60))} min`;
}

/** Bytes in GiB with one decimal: "6.9 GiB". */
export function gib(bytes: number): string {
  return `${(bytes / 2 ** 30).toFixed(1)} GiB`;
}

/** The highest GPU memory a run's records report, 0 when none does (only the PyTorch engine on CUDA records it). */
export function peakGpuMemory(records: readonly { gpuMemory?: number }[]): number {
  return records.reduce((peak, r) => Math.max(peak, r.gpuMemory ?? 0), 0);
}

export { median } from '../../core/util/median';
