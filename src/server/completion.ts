// Completion: keys of the section the cursor is in, enum and boolean values, workspace checkpoints and
// datasets for path fields, built-in recipes, and the base checkpoint's module names for target_modules.
import * as path from 'node:path';
import { CompletionItem, CompletionItemKind, MarkupKind, TextEdit } from 'vscode-languageserver';
import type { TextDocument } from 'vscode-languageserver-textdocument';
import { resolveExperimentPath } from '../core/experiment/validate';
import { BUILTIN_RECIPE_NAMES, builtinRecipe } from '../core/merge/recipes';
import { formatParameters } from '../core/util/format';
import { baseModel } from './checkpoints';
import { CursorContext, cursorContext } from './cursorContext';
import type { ExperimentModel } from './model';
import { describeSpec, fieldsAt, Spec, specAt } from './schemaLookup';
import type { WorkspaceFiles } from './workspaceFiles';
import { STUDY_KIND } from './kinds';

type Candidate = { label: string; detail?: string; doc?: string; kind: CompletionItemKind; insert?: string };

/** `valuesOnly`: answer only in a value or list item (completion triggered by typing a space). */
export async function complete(
  doc: TextDocument,
  model: ExperimentModel,
  offset: number,
  workspace: WorkspaceFiles,
  valuesOnly = false,
): Promise<CompletionItem[]> {
  const ctx = cursorContext(model.text, offset);
  if (!ctx || (valuesOnly && ctx.kind === 'key')) return [];
  const candidates = ctx.kind === 'key' ? keyCandidates(model, ctx) : await valueCandidates(model, ctx, workspace);
  const range = { start: doc.positionAt(ctx.prefixStart), end: doc.positionAt(offset) };
  return candidates.map((c, i) => ({
    label: c.label,
    kind: c.kind,
    detail: c.detail,
    documentation: c.doc ? { kind: MarkupKind.Markdown, value: c.doc } : undefined,
    sortText: String(i).padStart(4, '0'),
    filterText: c.label,
    textEdit: TextEdit.replace(range, c.insert ?? c.label),
  }));
}

/** Keys of the enclosing section not yet in the document; a section key opens its indented block. */
function keyCandidates(model: ExperimentModel, ctx: CursorContext): Candidate[] {
  const fields = fieldsAt(ctx.parents, model.kind.fields);
  if (!fields) return [];
  const present = model.yaml?.getIn(ctx.parents);
  const has = (key: string): boolean =>
    typeof (present as { has?: unknown })?.has === 'function' && (present as { has(k: string): boolean }).has(key);
  const indent = ' '.repeat(2 * (ctx.parents.length + 1));
  return Object.entries(fields)
    .filter(([key]) => !has(key))
    .map(([key, spec]) => ({
      label: key,
      kind: spec.type === 'section' ? CompletionItemKind.Module : CompletionItemKind.Property,
      detail: spec.type,
      doc: describeSpec(key, spec),
      insert: spec.type === 'section' ? `${key}:\n${indent}` : `${key}: `,
    }));
}

async function valueCandidates(
  model: ExperimentModel,
  ctx: CursorContext,
  workspace: WorkspaceFiles,
): Promise<Candidate[]> {
  const spec: Spec | undefined =
    ctx.key === undefined ? undefined : specAt([...ctx.parents, ctx.key], model.kind.fields);
  if (!spec) return [];
  if (ctx.kind === 'item')
    return spec.type === 'string[]' && ctx.key === 'target_modules'
      ? moduleCandidates(model)
      : ctx.key === 'variants' && model.kind === STUDY_KIND
        ? recipeCandidates()
        : [];
  switch (spec.type) {
    case 'enum':
      return spec.values.map((v) => ({
        label: v,
        kind: CompletionItemKind.EnumMember,
        doc: spec.valueDocs?.[v],
        detail: v === spec.default ? 'default' : undefined,
      }));
    case 'boolean':
      return ['true', 'false'].map((v) => ({ label: v, kind: CompletionItemKind.Value }));
    case 'path':
      return spec.kind === 'checkpoint'
        ? checkpointCandidates(model.file, workspace)
        : spec.kind === 'dataset'
          ? datasetCandidates(model.file, workspace)
          : [];
    case 'string':
      return ctx.key === 'recipe' ? recipeCandidates() : [];
    default:
      return [];
  }
}

function recipeCandidates(): Candidate[] {
  return BUILTIN_RECIPE_NAMES.map((name) => ({
    label: name,
    kind: CompletionItemKind.EnumMember,
    doc: builtinRecipe(name)?.description,
  }));
}

/** A workspace path as the experiment file names it: relative to its folder, with forward slashes. */
function relativeTo(file: string, target: string): string {
  return path.relative(path.dirname(file), target).split(path.sep).join('/') || '.';
}

async function checkpointCandidates(file: string, workspace: WorkspaceFiles): Promise<Candidate[]> {
  const all = await workspace.checkpoints();
  return all
    .filter((c) => c.kind !== 'adapter')
    .map((c) => ({ label: relativeTo(file, c.dir), kind: CompletionItemKind.Folder, detail: `${c.kind} checkpoint` }));
}

async function datasetCandidates(file: string, workspace: WorkspaceFiles): Promise<Candidate[]> {
  const all = await workspace.datasets();
  return all.map((d) => ({
    label: relativeTo(file, d.file),
    kind: CompletionItemKind.File,
    detail: d.summary ? `${d.summary.format} · ${d.summary.rows} rows` : 'dataset file',
  }));
}

/** The base checkpoint's linear module names, when `base` names a readable model. */
async function moduleCandidates(model: ExperimentModel): Promise<Candidate[]> {
  const base = model.yaml?.get('base');
  if (typeof base !== 'string' || base.trim() === '') return [];
  const info = await baseModel(resolveExperimentPath(model.file, base)).catch(() => undefined);
  if (!info) return [];
  return [...info.linear.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, shapes]) => ({
      label: name,
      kind: CompletionItemKind.Module,
      detail: `${shapes.length} × [${shapes[0].join(', ')}] · ${formatParameters(shapes.reduce((n, [o, i]) => n + o * i, 0))} parameters`,
    }));
}
