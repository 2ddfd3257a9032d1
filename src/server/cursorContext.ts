// Where the cursor is in an experiment file, read from the lines around it rather than the YAML tree:
// while someone types, the document is usually not valid YAML.

export interface CursorContext {
  /** Keys of the sections enclosing the cursor line, outermost first. */
  parents: string[];
  /** Typing a key, the value of `key`, or an item of the list `key` (block `- x` or flow `[a, x`). */
  kind: 'key' | 'value' | 'item';
  key?: string;
  /** The text typed so far that a completion replaces, and where it starts. */
  prefix: string;
  prefixStart: number;
}

const KEY_LINE = /^(\s*)([\w.-]+)\s*:(?:\s|$)/;

function indentOf(line: string): number {
  return /^\s*/.exec(line)![0].length;
}

const isBlank = (line: string): boolean => /^\s*(#.*)?$/.test(line);

/** Keys of the lines above `lineNo` that open a mapping indented less than `indent`, outermost first. */
function parentsOf(lines: string[], lineNo: number, indent: number): string[] {
  const parents: string[] = [];
  let limit = indent;
  for (let i = lineNo - 1; i >= 0 && limit > 0; i--) {
    const m = KEY_LINE.exec(lines[i]);
    if (!m || isBlank(lines[i]) || m[1].length >= limit) continue;
    parents.unshift(m[2]);
    limit = m[1].length;
  }
  return parents;
}

/** The list key a `- item` line belongs to: the nearest key line above at the same or a smaller indent. */
function listOwner(lines: string[], lineNo: number, indent: number): { key: string; indent: number } | undefined {
  for (let i = lineNo - 1; i >= 0; i--) {
    const line = lines[i];
    // Earlier items, and the lines inside them (a list of mappings), belong to the same list.
    if (isBlank(line) || indentOf(line) > indent || (/^\s*-/.test(line) && indentOf(line) >= indent)) continue;
    const m = KEY_LINE.exec(line);
    return m && m[1].length <= indent ? { key: m[2], indent: m[1].length } : undefined;
  }
  return undefined;
}

export function cursorContext(text: string, offset: number): CursorContext | undefined {
  const lineStart = text.lastIndexOf('\n', offset - 1) + 1;
  const before = text.slice(lineStart, offset);
  const lines = text.slice(0, lineStart).split(/\r?\n/);
  const lineNo = lines.length - 1;
  if (before.includes('#')) return undefined;

  const item = /^(\s*)-\s*(["']?)([^"',\s]*)$/.exec(before);
  if (item) {
    const owner = listOwner(lines, lineNo, item[1].length);
    if (!owner) return undefined;
    return {
      parents: parentsOf(lines, lineNo, owner.indent),
      kind: 'item',
      key: owner.key,
      prefix: item[3],
      prefixStart: offset - item[3].length,
    };
  }
  // `key: value`, also as the first key of a list item (`- recipe: taia` in a study's variants).
  const value = /^(\s*)(?:-\s+)?([\w.-]+)\s*:\s+(.*)$/.exec(before);
  if (value) {
    const parents = parentsOf(lines, lineNo, value[1].length);
    const flow = /^\[(?:[^\]]*,)?\s*(["']?)([^"',\s\]]*)$/.exec(value[3]);
    if (flow) return { parents, kind: 'item', key: value[2], prefix: flow[2], prefixStart: offset - flow[2].length };
    const prefix = value[3].replace(/^["']/, '');
    return { parents, kind: 'value', key: value[2], prefix, prefixStart: offset - prefix.length };
  }
  const key = /^(\s*)([\w.-]*)$/.exec(before);
  if (key)
    return {
      parents: parentsOf(lines, lineNo, key[1].length),
      kind: 'key',
      prefix: key[2],
      prefixStart: offset - key[2].length,
    };
  return undefined;
}
