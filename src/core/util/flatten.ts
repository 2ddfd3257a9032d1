/** `{ train: { learning_rate: 1e-4 } }` → `{ 'train.learning_rate': '0.0001' }`; lists join with commas. */
export function flatten(value: unknown, prefix = '', out: Record<string, string> = {}): Record<string, string> {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) flatten(v, prefix ? `${prefix}.${k}` : k, out);
  } else if (value !== undefined && prefix) {
    // An empty list shows as [], so it does not read as a missing key.
    out[prefix] = Array.isArray(value) ? (value.length ? value.join(', ') : '[]') : String(value);
  }
  return out;
}
