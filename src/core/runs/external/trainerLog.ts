// What the Hugging Face Trainer prints while it trains: its log dicts on stdout, as Python's repr
// writes them (`{'loss': 1.23, 'learning_rate': 2e-05, 'epoch': 0.5}`), and tqdm's progress bar on
// stderr (` 30%|███       | 3/10 [00:01<00:02,  3.00it/s]`). Parsed as literals, never evaluated.

export type PyValue = number | string | boolean | null;

/**
 * The flat dict of literals on a line, or undefined when the line holds none. Newer transformers
 * print values as strings ('1.234'); a string that is a whole number is read as that number.
 */
export function parseLogDict(line: string): Record<string, PyValue> | undefined {
  const start = line.indexOf('{');
  const end = line.lastIndexOf('}');
  if (start < 0 || end < start) return undefined;
  const text = line.slice(start, end + 1);
  let at = 1;
  const out: Record<string, PyValue> = {};
  const space = () => {
    while (at < text.length && /\s/.test(text[at])) at++;
  };
  const literal = (): PyValue | undefined => {
    space();
    const quote = text[at];
    if (quote === "'" || quote === '"') {
      let s = '';
      for (at++; at < text.length && text[at] !== quote; at++) {
        if (text[at] === '\\') {
          const c = text[++at];
          s += c === 'n' ? '\n' : c === 't' ? '\t' : c;
        } else s += text[at];
      }
      if (text[at] !== quote) return undefined;
      at++;
      return s;
    }
    const m = /^(?:-?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?|inf|nan)|True|False|None)/.exec(
      text.slice(at),
    );
    if (!m) return undefined;
    at += m[0].length;
    const w = m[0];
    if (w === 'True' || w === 'False') return w === 'True';
    if (w === 'None') return null;
    return w.endsWith('inf') ? (w.startsWith('-') ? -Infinity : Infinity) : w.endsWith('nan') ? NaN : Number(w);
  };
  space();
  if (text[at] === '}') return undefined;
  for (;;) {
    const key = literal();
    if (typeof key !== 'string') return undefined;
    space();
    if (text[at++] !== ':') return undefined;
    const value = literal();
    if (value === undefined) return undefined;
    out[key] =
      typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value)) ? Number(value) : value;
    space();
    const c = text[at++];
    if (c === '}') return at === text.length ? out : undefined;
    if (c !== ',') return undefined;
  }
}

/** `step/total` of a tqdm bar update, or undefined. */
export function parseProgress(text: string): { step: number; total: number } | undefined {
  const m = /\|\s*(\d+)\/(\d+)\s*\[/.exec(text);
  return m ? { step: Number(m[1]), total: Number(m[2]) } : undefined;
}
