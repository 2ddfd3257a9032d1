// Looks fields up in a schema (the experiment schema unless told) by key path, and describes them for hover and completion.
import { EXPERIMENT_SCHEMA, Field, Section } from '../core/experiment/schema';
import type { KeyPath } from '../core/experiment/validate';

export type Spec = Field | Section;

/** The schema seen as plain records: the `as const` literal types are only needed by the config type. */
export const ROOT_FIELDS = EXPERIMENT_SCHEMA as unknown as Record<string, Spec>;

/** The field or section a key path names, or undefined when no such key exists. List indices are skipped. */
export function specAt(path: KeyPath, root: Record<string, Spec> = ROOT_FIELDS): Spec | undefined {
  let fields: Record<string, Spec> | undefined = root;
  let spec: Spec | undefined;
  for (const key of path) {
    if (typeof key === 'number') continue;
    if (!fields || !Object.hasOwn(fields, key)) return undefined;
    spec = fields[key];
    fields = spec.type === 'section' ? spec.fields : undefined;
  }
  return spec;
}

/** The keys allowed directly under a path: the top level for [], a section's fields, else none. */
export function fieldsAt(path: KeyPath, root: Record<string, Spec> = ROOT_FIELDS): Record<string, Spec> | undefined {
  if (path.length === 0) return root;
  const spec = specAt(path, root);
  return spec?.type === 'section' ? spec.fields : undefined;
}

/** One line saying a field's type, default and limits, e.g. "integer ≥ 1, default 8". */
export function typeLine(spec: Spec): string {
  switch (spec.type) {
    case 'section':
      return 'section';
    case 'integer':
    case 'number': {
      const lo =
        spec.min === undefined ? '' : ` ${spec.type === 'number' && spec.exclusiveMin ? '>' : '≥'} ${spec.min}`;
      const hi = spec.max === undefined ? '' : `${lo ? ',' : ''} ≤ ${spec.max}`;
      return `${spec.type}${lo}${hi}, default ${spec.default}`;
    }
    case 'enum':
      return `one of ${spec.values.map((v) => `\`${v}\``).join(', ')}; default \`${spec.default}\``;
    case 'path':
      return `path to a ${spec.kind}, relative to this file${spec.required === true ? ' (required)' : spec.required ? ` (required with engine ${spec.required.engines.join(' or ')})` : ''}`;
    case 'command':
      return `a list of arguments, or one shell string${spec.required ? ` (required with engine ${spec.required.engines.join(' or ')})` : ''}`;
    case 'env':
      return 'mapping of environment variable names to values';
    case 'string[]':
      return `list of strings${spec.default.length ? `; default [${spec.default.join(', ')}]` : ''}`;
    case 'boolean':
    case 'string':
      return `${spec.type}${spec.default !== undefined ? `, default \`${spec.default}\`` : ''}`;
  }
}

/** Markdown documentation of a field: what hover and completion show. */
export function describeSpec(key: string, spec: Spec): string {
  return `**${key}** — ${typeLine(spec)}\n\n${spec.doc}`;
}
