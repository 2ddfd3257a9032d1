import { BLOCKS } from '../classify/types';
import { DeltaReport, TensorDelta } from './diff';

const pct = (x: number) => (Number.isFinite(x) ? `${(x * 100).toFixed(x < 0.001 ? 4 : 2)}%` : '∞');
const num = (x: number) => (Math.abs(x) >= 1e-3 || x === 0 ? x.toPrecision(4) : x.toExponential(3));
/** Table cells hold tensor names from files: keep them from breaking the table. */
const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/[\r\n]+/g, ' ');

function nonFinite(t: TensorDelta): number {
  const n = t.nonFinite;
  return n.base.nan + n.base.inf + n.finetuned.nan + n.finetuned.inf;
}

/** A summary a reviewer can paste into a pull request. */
export function diffToMarkdown(r: DeltaReport, top = 10): string {
  const out: string[] = [];
  out.push(`### Weight delta: \`${cell(r.finetuned)}\` vs base \`${cell(r.base)}\``, '');
  out.push(
    `${r.tensors.length} tensors compared (${r.finetunedKind === 'adapter' ? 'LoRA adapter, folded' : 'full fine-tune'}), ${r.layers} layers.`,
    '',
  );
  out.push('| block | tensors | changed | parameters | ‖Δ‖ | ‖W‖ | ‖Δ‖/‖W‖ |', '|---|---:|---:|---:|---:|---:|---:|');
  for (const b of BLOCKS) {
    const t = r.blocks[b];
    if (t.tensors === 0) continue;
    out.push(
      `| ${b} | ${t.tensors} | ${t.changedTensors} | ${t.parameters.toLocaleString('en-US')} | ${num(t.normDelta)} | ${num(t.normBase)} | ${pct(t.relative)} |`,
    );
  }
  const bad = r.tensors.filter((t) => nonFinite(t) > 0);
  if (bad.length) {
    out.push('', `**⚠ ${bad.length} tensor(s) hold NaN or Inf:**`, '');
    for (const t of bad.slice(0, top))
      out.push(
        `- \`${cell(t.name)}\`: base ${t.nonFinite.base.nan} NaN / ${t.nonFinite.base.inf} Inf, fine-tune ${t.nonFinite.finetuned.nan} NaN / ${t.nonFinite.finetuned.inf} Inf`,
      );
  }
  const ranked = [...r.tensors].sort((a, b) => b.relative - a.relative).slice(0, top);
  out.push(
    '',
    `Largest relative changes:`,
    '',
    '| tensor | block | ‖Δ‖/‖W‖ | cos | max \\|Δ\\| | changed |' + (r.spectrumMethod ? ' top σ(Δ) |' : ''),
    '|---|---|---:|---:|---:|---:|' + (r.spectrumMethod ? '---|' : ''),
  );
  for (const t of ranked) {
    out.push(
      `| \`${cell(t.name)}\` | ${t.block} | ${pct(t.relative)} | ${t.cosine.toFixed(6)} | ${num(t.maxAbs)} | ${pct(t.changedFraction)} |` +
        (r.spectrumMethod ? ` ${(t.spectrum ?? []).slice(0, 4).map(num).join(', ')} |` : ''),
    );
  }
  if (r.spectrumMethod) out.push('', `Singular values: ${r.spectrumMethod}.`);
  if (r.threeWay) {
    out.push('', `**Merged output** \`${cell(r.threeWay.merged)}\`: ${r.threeWay.verdict}.`);
    for (const v of r.threeWay.violations.slice(0, top))
      out.push(`- \`${cell(v.name)}\`: expected from ${v.expected}, equals ${v.actual}`);
  }
  if (r.onlyInBase.length || r.onlyInFinetuned.length)
    out.push('', `Only in base: ${r.onlyInBase.length}; only in the fine-tune: ${r.onlyInFinetuned.length}.`);
  return out.join('\n') + '\n';
}

/** One row per tensor, for spreadsheets. */
export function diffToCsv(r: DeltaReport): string {
  const head = [
    'name',
    'layer',
    'block',
    'module',
    'shape',
    'norm_base',
    'norm_delta',
    'relative',
    'cosine',
    'max_abs',
    'changed_fraction',
    'nan_inf',
    'spectrum',
    'merged_source',
    'merged_expected',
  ];
  const q = (s: string) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  const rows = r.tensors.map((t) =>
    [
      t.name,
      t.layer ?? '',
      t.block,
      t.module,
      t.shape.join('x'),
      t.normBase,
      t.normDelta,
      t.relative,
      t.cosine,
      t.maxAbs,
      t.changedFraction,
      nonFinite(t),
      (t.spectrum ?? []).join(' '),
      t.merged?.source ?? '',
      t.merged?.expected ?? '',
    ]
      .map((v) => q(String(v)))
      .join(','),
  );
  return [head.join(','), ...rows].join('\n') + '\n';
}
