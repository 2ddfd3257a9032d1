import { parseArgs } from 'node:util';
import { inspectCheckpoint, CheckpointSummary } from '../core/checkpoint/discover';
import { formatBytes } from '../core/util/size';
import { formatParameters, terminalSafe } from '../core/util/format';
import { Command, UsageError } from './usage';

export const inspectCommand: Command = {
  name: 'inspect',
  summary: 'describe a checkpoint folder (model, sharded model, LoRA adapter or merged output)',
  usage: 'taia inspect DIR [--json]',
  async run(argv) {
    const { values, positionals } = parseArgs({
      args: argv,
      options: { json: { type: 'boolean' } },
      allowPositionals: true,
    });
    if (positionals.length !== 1) throw new UsageError('inspect takes exactly one folder');
    const summary = await inspectCheckpoint(positionals[0]);
    process.stdout.write(values.json ? JSON.stringify(summary, null, 2) + '\n' : terminalSafe(formatSummary(summary)));
    return 0;
  },
};

function formatSummary(s: CheckpointSummary): string {
  const rows: [string, string][] = [
    ['folder', s.dir],
    [
      'kind',
      s.kind === 'adapter'
        ? 'PEFT LoRA adapter'
        : s.kind === 'merged'
          ? 'merged output (TAIA Lab)'
          : 'Hugging Face model',
    ],
  ];
  if (s.architecture) rows.push(['architecture', s.architecture + (s.modelType ? ` (${s.modelType})` : '')]);
  rows.push(['parameters', `${formatParameters(s.parameters)} (${s.parameters.toLocaleString('en-US')})`]);
  rows.push([
    'dtypes',
    Object.entries(s.dtypes)
      .map(([d, n]) => `${d} ${formatParameters(n!)}`)
      .join(', '),
  ]);
  rows.push([
    'size',
    `${formatBytes(s.sizeBytes)} in ${s.files.length} file${s.files.length === 1 ? '' : 's'}${s.sharded ? ' (sharded)' : ''}`,
  ]);
  if (s.layers !== undefined) rows.push(['layers', String(s.layers)]);
  rows.push(['tensors', String(s.tensors)]);
  if (s.adapter) {
    const a = s.adapter;
    rows.push([
      'r / alpha',
      `${a.r} / ${a.alpha}${a.rsLoRA ? ' (rsLoRA: scaling alpha/sqrt(r))' : ' (scaling alpha/r)'}`,
    ]);
    rows.push([
      'target modules',
      Array.isArray(a.targetModules) ? a.targetModules.join(', ') : `regex ${a.targetModules}`,
    ]);
    rows.push(['LoRA on', a.loraModules.join(', ')]);
    if (Object.keys(a.rankPattern).length) rows.push(['rank pattern', JSON.stringify(a.rankPattern)]);
    if (Object.keys(a.alphaPattern).length) rows.push(['alpha pattern', JSON.stringify(a.alphaPattern)]);
    if (a.modulesToSave.length) rows.push(['modules to save', a.modulesToSave.join(', ')]);
    if (a.baseModel) rows.push(['base model', a.baseModel]);
  }
  if (s.merge) {
    rows.push(['recipe', `${s.merge.recipe}${s.merge.scale !== 1 ? ` (scale ${s.merge.scale})` : ''}`]);
    for (const i of s.merge.inputs) rows.push([i.role, i.path]);
  }
  if (s.architectureFiles.length) rows.push(['architecture files', s.architectureFiles.join(', ')]);
  if (s.unknownTensors.length)
    rows.push([
      'unknown tensors',
      `${s.unknownTensors.length}: ${s.unknownTensors.slice(0, 5).join(', ')}${s.unknownTensors.length > 5 ? ', ...' : ''}`,
    ]);
  const w = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n') + '\n';
}
