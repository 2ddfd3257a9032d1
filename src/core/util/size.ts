import { InputError } from '../errors';
const UNITS: Record<string, number> = {
  '': 1,
  B: 1,
  KB: 1e3,
  MB: 1e6,
  GB: 1e9,
  TB: 1e12,
  KIB: 2 ** 10,
  MIB: 2 ** 20,
  GIB: 2 ** 30,
  TIB: 2 ** 40,
};

/** Parses sizes as Hugging Face writes them ("5GB" = 5·10⁹, "500MiB" = 500·2²⁰, or plain bytes). */
export function parseSize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]i?b|b)?\s*$/i.exec(text);
  const unit = m ? UNITS[(m[2] ?? '').toUpperCase()] : undefined;
  if (!m || unit === undefined) throw new InputError(`invalid size '${text}' (examples: 5GB, 500MB, 2GiB, 1048576)`);
  const bytes = Math.floor(Number(m[1]) * unit);
  if (bytes <= 0) throw new InputError(`size '${text}' must be positive`);
  return bytes;
}

/** Formats a byte count for people: 1.2 GB, 340 MB, 12 kB. */
export function formatBytes(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let i = 0;
  let v = n;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0)} ${units[i]}`;
}
