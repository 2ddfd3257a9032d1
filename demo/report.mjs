// The demo's report: the benchmark diff as a table and bar charts, the fine-tune's per-layer weight
// deltas, its loss curve, and a verdict computed from the numbers (never written in). Markdown for
// reading in the editor, and one self-contained HTML page (inline CSS and SVG, no scripts).
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';

const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
const fmt = (v, unit) => (v === undefined ? '–' : unit === 'percent' ? v.toFixed(1) : v.toFixed(3));
const COLORS = ['#888', '#d1495b', '#2e86ab', '#66a182', '#edae49'];

/** Per task (its first metric), which model scores best, and how TAIA compares with the fine-tune and the base. */
function verdict(bench) {
  const names = bench.models.map((m) => m.name);
  const col = (n) => names.indexOf(n);
  const rows = bench.rows.filter((r, i, all) => all.findIndex((x) => x.task === r.task) === i);
  const cmp = (a, b) => rows.filter((r) => (r.cells[col(a)].value ?? -Infinity) > (r.cells[col(b)].value ?? -Infinity)).length;
  const avg = bench.average ? Object.fromEntries(names.map((n, i) => [n, bench.average.cells[i].value])) : {};
  const lines = [
    `TAIA beats the full fine-tune on ${cmp('taia', 'finetuned')} of ${rows.length} tasks and the base on ${cmp('taia', 'base')} of ${rows.length}; the fine-tune beats the base on ${cmp('finetuned', 'base')}.`,
  ];
  if (bench.average) {
    const ranked = [...names].sort((a, b) => (avg[b] ?? -1) - (avg[a] ?? -1));
    lines.push(`Average over ${bench.average.tasks.length} tasks: ${ranked.map((n) => `${n} ${fmt(avg[n], bench.average.unit)}`).join(', ')}.`);
    lines.push(avg.taia > avg.finetuned && avg.taia > avg.base ? 'As the paper found, keeping only the fine-tuned attention does best here.' : 'Here TAIA does not come out on top on average, unlike the paper: see the table.');
  }
  return lines.join(' ');
}

function table(bench) {
  const names = bench.models.map((m) => m.name);
  const head = `| task | metric | ${names.join(' | ')} |\n|---|---|${names.map(() => '---:').join('|')}|`;
  const body = bench.rows.map((r) => `| ${r.task} | ${r.metric}${r.unit === 'percent' ? ' (%)' : ''} | ${r.cells.map((c, i) => `${r.best.includes(i) ? '**' : ''}${fmt(c.value, r.unit)}${c.delta !== undefined ? ` (${c.delta >= 0 ? '+' : ''}${fmt(c.delta, r.unit)})` : ''}${c.mark ? ` ${c.mark}` : ''}${r.best.includes(i) ? '**' : ''}`).join(' | ')} |`);
  const avg = bench.average ? [`| **average** | | ${bench.average.cells.map((c) => `**${fmt(c.value, bench.average.unit)}**`).join(' | ')} |`] : [];
  return [head, ...body, ...avg].join('\n');
}

function barsSvg(bench) {
  const names = bench.models.map((m) => m.name);
  const rows = bench.rows;
  const max = Math.max(1e-9, ...rows.flatMap((r) => r.cells.map((c) => c.value ?? 0)));
  const groupW = Math.max(names.length * 18 + 24, 150);
  const W = Math.max(rows.length * groupW + 40, names.length * 110 + 40);
  const H = 180;
  const bars = rows.flatMap((r, g) => r.cells.map((c, i) => {
    const h = ((c.value ?? 0) / max) * (H - 50);
    return `<rect x="${30 + g * groupW + i * 18}" y="${H - 30 - h}" width="16" height="${h}" fill="${COLORS[i % COLORS.length]}"><title>${esc(`${r.task} ${r.metric} ${names[i]}: ${fmt(c.value, r.unit)}`)}</title></rect>`;
  }));
  const labels = rows.map((r, g) => `<text x="${30 + g * groupW}" y="${H - 12}" font-size="11">${esc(`${r.task} · ${r.metric}`)}</text>`);
  const legend = names.map((n, i) => `<rect x="${30 + i * 110}" y="4" width="10" height="10" fill="${COLORS[i % COLORS.length]}"/><text x="${44 + i * 110}" y="13" font-size="11">${esc(n)}</text>`);
  return `<svg width="${W}" height="${H}" role="img" aria-label="scores per task and model">${legend.join('')}${bars.join('')}${labels.join('')}</svg>`;
}

function deltaSvg(delta) {
  const cells = delta.tensors.filter((t) => t.layer !== null);
  const modules = [...new Set(cells.map((t) => t.module))];
  const layers = Math.max(...cells.map((t) => t.layer)) + 1;
  const max = Math.max(1e-12, ...cells.map((t) => t.relative));
  const s = 22;
  const rects = cells.map((t) => `<rect x="${110 + modules.indexOf(t.module) * s}" y="${20 + t.layer * s}" width="${s - 2}" height="${s - 2}" fill="rgba(209,73,91,${(0.08 + 0.92 * (t.relative / max)).toFixed(3)})"><title>${esc(`${t.name}: ‖Δ‖/‖W‖ = ${(100 * t.relative).toFixed(2)}%`)}</title></rect>`);
  const heads = modules.map((m, i) => `<text x="${110 + i * s + 4}" y="14" font-size="9" transform="rotate(-30 ${110 + i * s + 4} 14)">${esc(m)}</text>`);
  const rowsText = Array.from({ length: layers }, (_, l) => `<text x="60" y="${20 + l * s + 15}" font-size="11">layer ${l}</text>`);
  return `<svg width="${130 + modules.length * s}" height="${30 + layers * s}" role="img" aria-label="relative change per layer and module">${heads.join('')}${rowsText.join('')}${rects.join('')}</svg>`;
}

/** The per-layer scan: a row per layer whose FFN reverts to base, a column per task, coloured by the change against the full fine-tune. */
function scanSvg(scan) {
  const tasks = Object.keys(scan.reference);
  const deltas = scan.rows.flatMap((r) => tasks.map((t) => r.scores[t] - scan.reference[t]));
  const max = Math.max(1e-9, ...deltas.map(Math.abs));
  const w = 90;
  const h = 24;
  const cells = scan.rows.flatMap((r, i) => tasks.map((t, j) => {
    const d = r.scores[t] - scan.reference[t];
    const colour = d >= 0 ? `rgba(27,127,59,${(0.1 + 0.9 * (d / max)).toFixed(3)})` : `rgba(179,38,30,${(0.1 + 0.9 * (-d / max)).toFixed(3)})`;
    return `<rect x="${110 + j * w}" y="${24 + i * h}" width="${w - 2}" height="${h - 2}" fill="${colour}"><title>${esc(`FFN of layer ${r.layer} reverted, ${t}: ${(100 * r.scores[t]).toFixed(1)} (${d >= 0 ? '+' : ''}${(100 * d).toFixed(1)} against the fine-tune)`)}</title></rect><text x="${110 + j * w + 8}" y="${24 + i * h + 16}" font-size="11">${esc(`${d >= 0 ? '+' : ''}${(100 * d).toFixed(1)}`)}</text>`;
  }));
  const heads = tasks.map((t, j) => `<text x="${110 + j * w + 4}" y="16" font-size="11">${esc(t)}</text>`);
  const rows = scan.rows.map((r, i) => `<text x="10" y="${24 + i * h + 16}" font-size="11">${esc(`FFN L${r.layer} → base`)}</text>`);
  return `<svg width="${130 + tasks.length * w}" height="${34 + scan.rows.length * h}" role="img" aria-label="per-layer FFN scan against the fine-tune">${heads.join('')}${rows.join('')}${cells.join('')}</svg>`;
}

function scanTable(scan) {
  const tasks = Object.keys(scan.reference);
  const pt = (v) => `${v >= 0 ? '+' : ''}${(100 * v).toFixed(1)}`;
  return [`| FFN reverted to base | ${tasks.join(' | ')} |`, `|---|${tasks.map(() => '---:').join('|')}|`, ...scan.rows.map((r) => `| layer ${r.layer} | ${tasks.map((t) => pt(r.scores[t] - scan.reference[t])).join(' | ')} |`)].join('\n');
}

function lossSvg(metrics) {
  const W = 480;
  const H = 160;
  const maxStep = Math.max(...metrics.map((m) => m.step));
  const maxLoss = Math.max(...metrics.map((m) => m.loss));
  const pts = metrics.map((m) => `${(30 + (m.step / maxStep) * (W - 40)).toFixed(1)},${(H - 20 - (m.loss / maxLoss) * (H - 40)).toFixed(1)}`).join(' ');
  return `<svg width="${W}" height="${H}" role="img" aria-label="training loss"><polyline points="${pts}" fill="none" stroke="#2e86ab" stroke-width="2"/><text x="30" y="14" font-size="11">loss (max ${maxLoss.toFixed(2)})</text><text x="${W - 80}" y="${H - 4}" font-size="11">step ${maxStep}</text></svg>`;
}

export function writeReport(dir, { bench, delta, metrics, experiment, scan, seconds, quick }) {
  const v = verdict(bench);
  const blocks = Object.entries(delta.blocks).filter(([, b]) => b.tensors > 0).map(([name, b]) => `${name} ${(100 * b.relative).toFixed(2)}%`).join(', ');
  const check = delta.threeWay ? delta.threeWay.verdict : 'not run';
  const markdown = [
    '# TAIA demo report',
    '',
    quick ? '_Shortened run (`--quick`): the numbers below show the pipeline, not the method._\n' : '',
    `Base model: \`demo/base-model\` (Llama, 4 layers, pretrained by this project on a synthetic world). Fine-tuned fully for ${experiment.train.max_steps} steps (learning rate ${experiment.train.learning_rate}) on word games in an instruction format — out of distribution for the downstream tasks (capitals of invented countries, sums), which the base knows from pretraining but was never asked in that format. Compared as one study (\`word-games.taia-study.yaml\`, every variant read from base and fine-tune without writing it): \`taia\` (the paper's rule: all but the FFN matrices from the fine-tune), \`taia-strict\` (attention only), \`taif\` (FFN only, the paper's ablation) and a per-layer FFN scan.`,
    '',
    '## Downstream tasks',
    '',
    table(bench),
    '',
    `Marks: * p < 0.05, ** p < 0.01, *** p < 0.001 against the base (McNemar on per-example records). ${bench.notes.join(' ')}`,
    '',
    `**Verdict (computed):** ${v}`,
    '',
    '## Per-layer scan',
    '',
    `Each row is the whole fine-tune with the FFN of one layer reverted to base (the study's \`revert-ffn-each\` scan, evaluated without writing any variant); points against the full fine-tune:`,
    '',
    scanTable(scan),
    '',
    '## What the fine-tune changed',
    '',
    `Relative change ‖Δ‖/‖W‖ per block: ${blocks}. Three-way check of the TAIA output: ${check}.`,
    '',
    `## Training`,
    '',
    `Loss from ${metrics[0].loss.toFixed(3)} to ${metrics.at(-1).loss.toFixed(3)} over ${metrics.length} steps. The demo took ${seconds.toFixed(0)} s.`,
    '',
  ].join('\n');
  writeFileSync(path.join(dir, 'report.md'), markdown);
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>TAIA demo report</title>
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<style>body{font:14px system-ui,sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;color:#222}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}td:first-child,td:nth-child(2),th:first-child,th:nth-child(2){text-align:left}.best{font-weight:bold}.better{color:#1b7f3b}.worse{color:#b3261e}svg{display:block;margin:1em 0}</style></head><body>
<h1>TAIA demo report</h1>${quick ? '<p><em>Shortened run (--quick): the numbers show the pipeline, not the method.</em></p>' : ''}
<h2>Downstream tasks</h2><table><tr><th>task</th><th>metric</th>${bench.models.map((m) => `<th>${esc(m.name)}</th>`).join('')}</tr>
${bench.rows.map((r) => `<tr><td>${esc(r.task)}</td><td>${esc(r.metric)}</td>${r.cells.map((c, i) => `<td class="${r.best.includes(i) ? 'best ' : ''}${c.better === true ? 'better' : c.better === false ? 'worse' : ''}">${fmt(c.value, r.unit)}${c.mark ? `<sup>${esc(c.mark)}</sup>` : ''}</td>`).join('')}</tr>`).join('\n')}
${bench.average ? `<tr><td><b>average</b></td><td></td>${bench.average.cells.map((c, i) => `<td class="${bench.average.best.includes(i) ? 'best' : ''}">${fmt(c.value, bench.average.unit)}</td>`).join('')}</tr>` : ''}</table>
${barsSvg(bench)}
<p><b>Verdict (computed):</b> ${esc(v)}</p>
<h2>Per-layer scan: the FFN of one layer reverted to base</h2><p>Points against the full fine-tune, per task (the study's revert-ffn-each scan).</p>${scanSvg(scan)}
<h2>Per-layer weight deltas of the fine-tune</h2><p>${esc(`Relative change per block: ${blocks}. Three-way check of the TAIA output: ${check}.`)}</p>${deltaSvg(delta)}
<h2>Training loss</h2>${lossSvg(metrics)}
</body></html>`;
  writeFileSync(path.join(dir, 'report.html'), html);
  const headline = table(bench).replace(/\*\*/g, '') + `\n\n${v}`;
  return { markdown, headline };
}
