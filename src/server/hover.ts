// Hover: a key's documentation from the schema; on an enum value, that value's documentation; on a
// checkpoint or dataset path, what is there (inspectCheckpoint / detectDataset, cached).
import { Hover, MarkupKind } from 'vscode-languageserver';
import type { TextDocument } from 'vscode-languageserver-textdocument';
import type { CheckpointSummary } from '../core/checkpoint/discover';
import type { DatasetSummary } from '../core/datasets/detect';
import { resolveExperimentPath } from '../core/experiment/validate';
import { formatParameters } from '../core/util/format';
import { formatBytes } from '../core/util/size';
import { checkpointSummary } from './checkpoints';
import { datasetSummary } from './datasets';
import type { ExperimentModel } from './model';
import { describeSpec, specAt } from './schemaLookup';
import { nodeAt } from './yamlNodes';

export async function hover(doc: TextDocument, model: ExperimentModel, offset: number): Promise<Hover | null> {
  const at = model.yaml && nodeAt(model.yaml.contents, offset);
  const key = at?.path.filter((k): k is string => typeof k === 'string').at(-1);
  const spec = at && specAt(at.path, model.kind.fields);
  if (!at || !spec || key === undefined) return null;
  const parts = [describeSpec(key, spec)];
  if (at.on === 'value' && spec.type === 'enum' && typeof at.scalar === 'string' && spec.valueDocs?.[at.scalar])
    parts.push(`\`${at.scalar}\`: ${spec.valueDocs[at.scalar]}`);
  if (at.on === 'value' && spec.type === 'path' && typeof at.scalar === 'string') {
    const target = resolveExperimentPath(model.file, at.scalar);
    if (spec.kind === 'checkpoint')
      parts.push(await checkpointSummary(target).then(describeCheckpoint, (e: Error) => `_${e.message}_`));
    if (spec.kind === 'dataset')
      parts.push(await datasetSummary(target).then(describeDataset, (e: Error) => `_${e.message}_`));
  }
  return {
    contents: { kind: MarkupKind.Markdown, value: parts.join('\n\n---\n\n') },
    range: { start: doc.positionAt(at.span[0]), end: doc.positionAt(at.span[1]) },
  };
}

function describeCheckpoint(s: CheckpointSummary): string {
  const dtypes = Object.entries(s.dtypes)
    .map(([d, n]) => `${d} ${formatParameters(n)}`)
    .join(', ');
  const rows = [
    `**${s.kind}** checkpoint${s.architecture ? ` · ${s.architecture}` : ''}`,
    `${formatParameters(s.parameters)} parameters (${dtypes}) · ${s.tensors} tensors${s.layers ? ` · ${s.layers} layers` : ''}`,
    `${formatBytes(s.sizeBytes)} in ${s.files.length} file(s)${s.sharded ? ', sharded' : ''}`,
  ];
  if (s.unknownTensors.length) rows.push(`${s.unknownTensors.length} tensor(s) no architecture rule recognises`);
  if (s.merge) rows.push(`merged with recipe \`${s.merge.recipe}\``);
  return rows.join('  \n');
}

function describeDataset(s: DatasetSummary): string {
  return `**${s.format}** dataset · ${s.container} · ${s.rows} rows${s.columns?.length ? `  \ncolumns: ${s.columns.join(', ')}` : ''}${s.problems.length ? `  \n${s.problems.length} problem(s) in the first rows` : ''}`;
}
