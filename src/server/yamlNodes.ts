// Maps key paths of a parsed YAML document to character spans of their key and value nodes, and back.
// Diagnostics, hover, quick fixes and symbols all locate things through these two walks.
import { isMap, isPair, isScalar, isSeq, Node, Pair } from 'yaml';
import type { KeyPath } from '../core/experiment/validate';

export type Span = [start: number, end: number];

export interface PathSpans {
  /** How many leading segments of the path exist in the document. */
  depth: number;
  /** Key node of the deepest existing segment (absent for list items and the root). */
  key?: Span;
  /** Value node of the deepest existing segment. */
  value?: Span;
}

/** A node's source span without trailing comments and blank lines. */
export function spanOf(node: unknown): Span | undefined {
  const range = (node as Node | null)?.range;
  return range ? [range[0], range[1]] : undefined;
}

function pairOf(node: unknown, key: string): Pair | undefined {
  if (!isMap(node)) return undefined;
  return node.items.find((p): p is Pair => isPair(p) && isScalar(p.key) && p.key.value === key);
}

/** Spans of the node at a key path (string keys in mappings, numbers in sequences), or of its deepest existing ancestor. */
export function findPath(root: unknown, path: KeyPath): PathSpans {
  const found: PathSpans = { depth: 0, value: spanOf(root) };
  let current = root;
  for (const segment of path) {
    if (typeof segment === 'number') {
      if (!isSeq(current) || segment >= current.items.length) break;
      current = current.items[segment];
      found.key = undefined;
    } else {
      const pair = pairOf(current, segment);
      if (!pair) break;
      current = pair.value;
      found.key = spanOf(pair.key);
    }
    found.depth++;
    found.value = spanOf(current);
  }
  return found;
}

export interface NodeAt {
  path: KeyPath;
  /** Whether the offset is on the key of the last segment or inside its value. */
  on: 'key' | 'value';
  /** The scalar value under the offset, when it is on one. */
  scalar?: unknown;
  span: Span;
}

/** The deepest key or value node that contains an offset, with its key path. */
export function nodeAt(root: unknown, offset: number): NodeAt | undefined {
  const inside = (s: Span | undefined): s is Span => s !== undefined && s[0] <= offset && offset <= s[1];
  let best: NodeAt | undefined;
  const visit = (node: unknown, path: KeyPath): void => {
    if (isMap(node)) {
      for (const pair of node.items) {
        if (!isScalar(pair.key)) continue;
        const keyPath = [...path, String(pair.key.value)];
        const keySpan = spanOf(pair.key);
        if (inside(keySpan)) best = { path: keyPath, on: 'key', span: keySpan };
        else visit(pair.value, keyPath);
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, i) => visit(item, [...path, i]));
    } else if (isScalar(node)) {
      const span = spanOf(node);
      if (inside(span)) best = { path, on: 'value', scalar: node.value, span };
    }
  };
  visit(root, []);
  return best;
}
