// The demo's report: the benchmark diff as a table and bar charts, the fine-tune's per-layer weight
// deltas (with a legend), its loss curve (on labelled axes), bars with 95% intervals and significance,
// and a verdict computed from the numbers (never written in). Markdown for
// reading in the editor, and one self-contained HTML page (inline CSS and SVG, no scripts).
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';

const esc = (s) =>
  String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
const fmt = (v, unit) => (v === undefined ? '–' : unit === 'percent' ? v.toFixed(1) : v.toFixed(3));
/** One colour per model, none of them red or green: in the table those mean worse and better. */
const COLORS = ['#7f7f7f', '#8e6bbf', '#1f77b4', '#17becf', '#b8860b'];
/** Round tick values from 0 to at least `max`: 0, step, 2·step, … */
function ticks(max, count = 4) {
  const raw = max / count;
  const mag = 10 ** Math.floor(Math.log10(raw || 1));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  return Array.from({ length: Math.ceil(max / step - 1e-9) + 1 }, (_, i) => +(i * step).toPrecision(6));
}

/** Per task (its first metric), which model scores best, and how TAIA compares with the fine-tune and the base. */
function verdict(bench) {
  const names = bench.models.map((m) => m.name);
  const col = (n) => names.indexOf(n);
  const rows = bench.rows.filter((r, i, all) => all.findIndex((x) => x.task === r.task) === i);
  const cmp = (a, b) =>
    rows.filter((r) => (r.cells[col(a)].value ?? -Infinity) > (r.cells[col(b)].value ?? -Infinity)).length;
  const avg = bench.average ? Object.fromEntries(names.map((n, i) => [n, bench.average.cells[i].value])) : {};
  const lines = [
    `TAIA beats the full fine-tune on ${cmp('taia', 'finetuned')} of ${rows.length} tasks and the base on ${cmp('taia', 'base')} of ${rows.length}; the fine-tune beats the base on ${cmp('finetuned', 'base')}.`,
  ];
  if (bench.average) {
    const ranked = [...names].sort((a, b) => (avg[b] ?? -1) - (avg[a] ?? -1));
    lines.push(
      `Average over ${bench.average.tasks.length} tasks: ${ranked.map((n) => `${n} ${fmt(avg[n], bench.average.unit)}`).join(', ')}.`,
    );
    lines.push(
      avg.taia > avg.finetuned && avg.taia > avg.base
        ? 'As the paper found, keeping only the fine-tuned attention does best here.'
        : 'Here TAIA does not come out on top on average, unlike the paper: see the table.',
    );
  }
  return lines.join(' ');
}

function table(bench) {
  const names = bench.models.map((m) => m.name);
  const head = `| task | metric | ${names.join(' | ')} |\n|---|---|${names.map(() => '---:').join('|')}|`;
  const body = bench.rows.map(
    (r) =>
      `| ${r.task} | ${r.metric}${r.unit === 'percent' ? ' (%)' : ''} | ${r.cells.map((c, i) => `${r.best.includes(i) ? '**' : ''}${fmt(c.value, r.unit)}${c.delta !== undefined ? ` (${c.delta >= 0 ? '+' : ''}${fmt(c.delta, r.unit)})` : ''}${c.mark ? ` ${c.mark}` : ''}${r.best.includes(i) ? '**' : ''}`).join(' | ')} |`,
  );
  const avg = bench.average
    ? [`| **average** | | ${bench.average.cells.map((c) => `**${fmt(c.value, bench.average.unit)}**`).join(' | ')} |`]
    : [];
  return [head, ...body, ...avg].join('\n');
}

/**
 * Scores per task (each row a group of bars, one per model) on a labelled value axis, with each bar's
 * value, its 95% interval (±1.96 standard errors) where the file has one, and its significance mark
 * against the base.
 */
function barsSvg(bench) {
  const names = bench.models.map((m) => m.name);
  const rows = bench.rows;
  // Scores of a known scale stop at 1 (or 100%): an interval reaching past it is cut there.
  const cap = rows.every((r) => r.unit === 'fraction') ? 1 : rows.every((r) => r.unit === 'percent') ? 100 : Infinity;
  const top = Math.min(
    cap,
    Math.max(1e-9, ...rows.flatMap((r) => r.cells.map((c) => (c.value ?? 0) + 1.96 * (c.stderr ?? 0)))),
  );
  const axis = ticks(top);
  const max = axis.at(-1);
  const bw = 28;
  const groupW = Math.max(names.length * (bw + 4) + 30, 150);
  const left = 50;
  const W = Math.max(left + rows.length * groupW + 20, names.length * 120 + 40);
  const H = 240;
  const plotTop = 36;
  const plotBottom = H - 34;
  const y = (v) => plotBottom - (Math.min(v, max) / max) * (plotBottom - plotTop);
  const grid = axis.map(
    (t) =>
      `<line x1="${left}" x2="${W - 10}" y1="${y(t).toFixed(1)}" y2="${y(t).toFixed(1)}" stroke="#ddd"/><text x="${left - 6}" y="${(y(t) + 4).toFixed(1)}" font-size="10" text-anchor="end">${esc(fmt(t, rows[0]?.unit))}</text>`,
  );
  const bars = rows.flatMap((r, g) =>
    r.cells.map((c, i) => {
      if (c.value === undefined) return '';
      const x = left + 10 + g * groupW + i * (bw + 4);
      const h = plotBottom - y(c.value);
      const se = c.stderr;
      const whisker = se
        ? `<line x1="${x + bw / 2}" x2="${x + bw / 2}" y1="${y(Math.max(0, c.value - 1.96 * se)).toFixed(1)}" y2="${y(c.value + 1.96 * se).toFixed(1)}" stroke="#333" stroke-width="1.2"/>`
        : '';
      // The value sits just above its bar; the mark above the interval.
      const label = `<text x="${x + bw / 2}" y="${(y(c.value) - 3).toFixed(1)}" font-size="8" text-anchor="middle" fill="#111" stroke="#fff" stroke-width="2" paint-order="stroke">${esc(fmt(c.value, r.unit))}</text>${c.mark ? `<text x="${x + bw / 2}" y="${(y(c.value + 1.96 * (se ?? 0)) - 12).toFixed(1)}" font-size="10" text-anchor="middle">${esc(c.mark)}</text>` : ''}`;
      return `<rect x="${x}" y="${y(c.value).toFixed(1)}" width="${bw}" height="${h.toFixed(1)}" fill="${COLORS[i % COLORS.length]}"><title>${esc(`${r.task} ${r.metric} ${names[i]}: ${fmt(c.value, r.unit)}${se ? ` ± ${fmt(1.96 * se, r.unit)} (95%)` : ''}${c.test ? `, p = ${c.test.p.toPrecision(2)} against the base` : ''}`)}</title></rect>${whisker}${label}`;
    }),
  );
  const labels = rows.map(
    (r, g) =>
      `<text x="${left + 10 + g * groupW}" y="${H - 16}" font-size="11">${esc(`${r.task} · ${r.metric}`)}</text>`,
  );
  const legend = names.map(
    (n, i) =>
      `<rect x="${left + i * 120}" y="6" width="10" height="10" fill="${COLORS[i % COLORS.length]}"/><text x="${left + 14 + i * 120}" y="15" font-size="11">${esc(n)}</text>`,
  );
  const axisLine = `<line x1="${left}" x2="${left}" y1="${plotTop}" y2="${plotBottom}" stroke="#333"/><line x1="${left}" x2="${W - 10}" y1="${plotBottom}" y2="${plotBottom}" stroke="#333"/><text x="8" y="${plotTop - 6}" font-size="10">score${rows[0]?.unit === 'percent' ? ' (%)' : ''}</text>`;
  const note = `<text x="${left}" y="${H - 2}" font-size="10" fill="#555">whiskers: 95% interval (±1.96 standard errors); * p &lt; 0.05, ** p &lt; 0.01, *** p &lt; 0.001 against the base</text>`;
  return `<svg width="${W}" height="${H}" role="img" aria-label="scores per task and model, with 95% intervals">${legend.join('')}${grid.join('')}${axisLine}${bars.join('')}${labels.join('')}${note}</svg>`;
}

function deltaSvg(delta) {
  const cells = delta.tensors.filter((t) => t.layer !== null);
  const modules = [...new Set(cells.map((t) => t.module))];
  const layers = Math.max(...cells.map((t) => t.layer)) + 1;
  const max = Math.max(1e-12, ...cells.map((t) => t.relative));
  const s = 22;
  // Blue, not red: red is "worse" in the table above.
  const shade = (f) => `rgba(31,119,180,${(0.06 + 0.94 * f).toFixed(3)})`;
  const rects = cells.map(
    (t) =>
      `<rect x="${110 + modules.indexOf(t.module) * s}" y="${20 + t.layer * s}" width="${s - 2}" height="${s - 2}" fill="${shade(t.relative / max)}" stroke="#ccc" stroke-width="0.5"><title>${esc(`${t.name}: ‖Δ‖/‖W‖ = ${(100 * t.relative).toFixed(2)}%`)}</title></rect>`,
  );
  const lx = 110 + modules.length * s + 20;
  const steps = [0, 0.25, 0.5, 0.75, 1];
  const legend = steps.map(
    (f, i) =>
      `<rect x="${lx}" y="${20 + (steps.length - 1 - i) * 16}" width="14" height="14" fill="${shade(f)}" stroke="#ccc" stroke-width="0.5"/><text x="${lx + 20}" y="${31 + (steps.length - 1 - i) * 16}" font-size="10">${(100 * f * max).toFixed(2)}%</text>`,
  );
  const heads = modules.map(
    (m, i) =>
      `<text x="${110 + i * s + 4}" y="14" font-size="9" transform="rotate(-30 ${110 + i * s + 4} 14)">${esc(m)}</text>`,
  );
  const rowsText = Array.from(
    { length: layers },
    (_, l) => `<text x="60" y="${20 + l * s + 15}" font-size="11">layer ${l}</text>`,
  );
  return `<svg width="${lx + 90}" height="${Math.max(30 + layers * s, 110)}" role="img" aria-label="relative change per layer and module">${heads.join('')}${rowsText.join('')}${rects.join('')}<text x="${lx}" y="12" font-size="10">‖Δ‖/‖W‖</text>${legend.join('')}</svg>`;
}

/** The per-layer scan: a row per layer whose FFN reverts to base, a column per task, coloured by the change against the full fine-tune. */
function scanSvg(scan) {
  const tasks = Object.keys(scan.reference);
  const deltas = scan.rows.flatMap((r) => tasks.map((t) => r.scores[t] - scan.reference[t]));
  const max = Math.max(1e-9, ...deltas.map(Math.abs));
  const w = 90;
  const h = 24;
  const cells = scan.rows.flatMap((r, i) =>
    tasks.map((t, j) => {
      const d = r.scores[t] - scan.reference[t];
      const colour =
        d >= 0
          ? `rgba(27,127,59,${(0.1 + 0.9 * (d / max)).toFixed(3)})`
          : `rgba(179,38,30,${(0.1 + 0.9 * (-d / max)).toFixed(3)})`;
      return `<rect x="${110 + j * w}" y="${24 + i * h}" width="${w - 2}" height="${h - 2}" fill="${colour}"><title>${esc(`FFN of layer ${r.layer} reverted, ${t}: ${(100 * r.scores[t]).toFixed(1)} (${d >= 0 ? '+' : ''}${(100 * d).toFixed(1)} against the fine-tune)`)}</title></rect><text x="${110 + j * w + 8}" y="${24 + i * h + 16}" font-size="11">${esc(`${d >= 0 ? '+' : ''}${(100 * d).toFixed(1)}`)}</text>`;
    }),
  );
  const heads = tasks.map((t, j) => `<text x="${110 + j * w + 4}" y="16" font-size="11">${esc(t)}</text>`);
  const rows = scan.rows.map(
    (r, i) => `<text x="10" y="${24 + i * h + 16}" font-size="11">${esc(`FFN L${r.layer} → base`)}</text>`,
  );
  return `<svg width="${130 + tasks.length * w}" height="${34 + scan.rows.length * h}" role="img" aria-label="per-layer FFN scan against the fine-tune">${heads.join('')}${rows.join('')}${cells.join('')}</svg>`;
}

function scanTable(scan) {
  const tasks = Object.keys(scan.reference);
  const pt = (v) => `${v >= 0 ? '+' : ''}${(100 * v).toFixed(1)}`;
  return [
    `| FFN reverted to base | ${tasks.join(' | ')} |`,
    `|---|${tasks.map(() => '---:').join('|')}|`,
    ...scan.rows.map(
      (r) => `| layer ${r.layer} | ${tasks.map((t) => pt(r.scores[t] - scan.reference[t])).join(' | ')} |`,
    ),
  ].join('\n');
}

/** The training loss by step on labelled axes. */
function lossSvg(metrics) {
  const W = 520;
  const H = 200;
  const left = 50;
  const bottom = H - 30;
  const top = 14;
  const maxStep = Math.max(...metrics.map((m) => m.step));
  const losses = metrics.map((m) => m.loss).filter(Number.isFinite);
  const yTicks = ticks(Math.max(...losses));
  const yMax = yTicks.at(-1);
  const xTicks = ticks(maxStep);
  const xMax = xTicks.at(-1);
  const x = (step) => left + (step / xMax) * (W - left - 10);
  const y = (loss) => bottom - (loss / yMax) * (bottom - top);
  const pts = metrics
    .filter((m) => Number.isFinite(m.loss))
    .map((m) => `${x(m.step).toFixed(1)},${y(m.loss).toFixed(1)}`)
    .join(' ');
  const yAxis = yTicks.map(
    (t) =>
      `<line x1="${left}" x2="${W - 10}" y1="${y(t).toFixed(1)}" y2="${y(t).toFixed(1)}" stroke="#eee"/><text x="${left - 6}" y="${(y(t) + 4).toFixed(1)}" font-size="10" text-anchor="end">${t}</text>`,
  );
  const xAxis = xTicks.map(
    (t) => `<text x="${x(t).toFixed(1)}" y="${bottom + 14}" font-size="10" text-anchor="middle">${t}</text>`,
  );
  const frame = `<line x1="${left}" x2="${left}" y1="${top}" y2="${bottom}" stroke="#333"/><line x1="${left}" x2="${W - 10}" y1="${bottom}" y2="${bottom}" stroke="#333"/><text x="${W - 10}" y="${H - 2}" font-size="10" text-anchor="end">step</text><text x="4" y="${top - 2}" font-size="10">loss</text>`;
  return `<svg width="${W}" height="${H}" role="img" aria-label="training loss by step, from ${losses[0].toFixed(3)} to ${losses.at(-1).toFixed(3)}">${yAxis.join('')}${xAxis.join('')}${frame}<polyline points="${pts}" fill="none" stroke="#1f77b4" stroke-width="2"/></svg>`;
}

/** "▲ +0.120" in green when better and significant, "▼ −0.050" in red when worse and significant, grey and "n.s." otherwise. */
function deltaHtml(c, unit) {
  if (c.delta === undefined) return '';
  const p = c.pAdjusted ?? c.test?.p;
  const significant = p !== undefined && p < 0.05;
  const cls = !significant ? 'ns' : c.better === true ? 'better' : c.better === false ? 'worse' : 'ns';
  const arrow = c.delta > 0 ? '▲' : c.delta < 0 ? '▼' : '';
  return ` <span class="${cls}" title="${p !== undefined ? `p = ${p.toPrecision(2)}` : 'no test'}">${arrow} ${c.delta >= 0 ? '+' : '−'}${fmt(Math.abs(c.delta), unit)}${significant ? '' : p !== undefined ? ' n.s.' : ''}</span>`;
}

/** Knowledge held (x) against format followed (y), a point per model: TAIA's claim is the top right corner. */
function mechanismSvg(diag) {
  const W = 360;
  const H = 300;
  const left = 50;
  const top = 16;
  const right = W - 20;
  const bottom = H - 40;
  const x = (v) => left + v * (right - left);
  const y = (v) => bottom - v * (bottom - top);
  const grid = [0, 0.25, 0.5, 0.75, 1].map(
    (t) =>
      `<line x1="${x(t)}" x2="${x(t)}" y1="${top}" y2="${bottom}" stroke="#eee"/><line x1="${left}" x2="${right}" y1="${y(t)}" y2="${y(t)}" stroke="#eee"/><text x="${x(t)}" y="${bottom + 14}" font-size="10" text-anchor="middle">${100 * t}</text><text x="${left - 6}" y="${y(t) + 4}" font-size="10" text-anchor="end">${100 * t}</text>`,
  );
  const points = diag
    .filter((m) => m.knowledge !== undefined && m.format !== undefined)
    .map(
      (m, i) =>
        `<circle cx="${x(m.knowledge).toFixed(1)}" cy="${y(m.format).toFixed(1)}" r="6" fill="${COLORS[i % COLORS.length]}"><title>${esc(`${m.name}: knowledge ${(100 * m.knowledge).toFixed(1)} %, format ${(100 * m.format).toFixed(1)} %`)}</title></circle><text x="${(x(m.knowledge) + 9).toFixed(1)}" y="${(y(m.format) + 4 + (i % 2) * 10).toFixed(1)}" font-size="11">${esc(m.name)}</text>`,
    );
  const frame = `<line x1="${left}" x2="${left}" y1="${top}" y2="${bottom}" stroke="#333"/><line x1="${left}" x2="${right}" y1="${bottom}" y2="${bottom}" stroke="#333"/><text x="${(left + right) / 2}" y="${H - 8}" font-size="11" text-anchor="middle">knowledge held: exact match on the pretraining-style diagnostic (%)</text><text x="12" y="${(top + bottom) / 2}" font-size="11" text-anchor="middle" transform="rotate(-90 12 ${(top + bottom) / 2})">format followed: answers in the expected form (%)</text>`;
  return `<svg width="${W}" height="${H}" role="img" aria-label="knowledge held against format followed, per model">${grid.join('')}${frame}${points.join('')}</svg>`;
}

const pct = (v) => (v === undefined ? '–' : (100 * v).toFixed(1));

function mechanismTable(diag, average) {
  return [
    '| model | knowledge held (%) | format followed (%) | downstream average |',
    '|---|---:|---:|---:|',
    ...diag.map((m) => `| ${m.name} | ${pct(m.knowledge)} | ${pct(m.format)} | ${average[m.name].toFixed(3)} |`),
  ].join('\n');
}

/** The checks' verdict, computed: how many hold, and which do not. */
function mechanismVerdict(list) {
  const failed = list.filter((c) => !c.holds);
  return failed.length === 0
    ? `All ${list.length} checks hold: this run reproduces TAIA's finding and its mechanism.`
    : `${list.length - failed.length} of ${list.length} checks hold: this run does not reproduce TAIA's finding in full (not holding: ${failed.map((c) => c.claim).join('; ')}).`;
}

export function writeReport(dir, { bench, delta, metrics, experiment, scan, seconds, quick, diag, checks, average }) {
  const v = verdict(bench);
  const mv = mechanismVerdict(checks);
  const blocks = Object.entries(delta.blocks)
    .filter(([, b]) => b.tensors > 0)
    .map(([name, b]) => `${name} ${(100 * b.relative).toFixed(2)}%`)
    .join(', ');
  const check = delta.threeWay ? delta.threeWay.verdict : 'not run';
  const markdown = [
    '# TAIA demo report',
    '',
    quick ? '_Shortened run (`--quick`): the numbers below show the pipeline, not the method._\n' : '',
    `Base model: \`demo/base-model\` (Llama, 4 layers, pretrained by this project on a synthetic world). Fine-tuned fully for ${experiment.train.max_steps} steps (learning rate ${experiment.train.learning_rate}) on word games and questions about invented animals in the chat format, with bare answers — out of distribution for the downstream tasks (capitals of invented countries, sums), which the base knows from pretraining but answers in its own framed style (\`Answer: …\`). Compared as one study (\`word-games.taia-study.yaml\`, every variant read from base and fine-tune without writing it): \`taia\` (the paper's rule: all but the FFN matrices from the fine-tune), \`taia-strict\` (attention only), \`taif\` (FFN only, the paper's ablation) and a per-layer FFN scan.`,
    '',
    '## The mechanism, measured',
    '',
    `Knowledge held: exact match on \`tasks/knowledge.jsonl\`, the capitals asked in the base's own pretraining style (raw prompts, \`"template": false\`). Format followed: the share of the downstream generation answers (capitals, sums) in the expected form — one word or one number, right or wrong. Fine-tuning seed ${experiment.train.seed}.`,
    '',
    mechanismTable(diag, average),
    '',
    ...checks.map((c) => `- ${c.holds ? '✓' : '✗'} ${c.claim}: ${c.figures}`),
    '',
    `**Verdict (computed):** ${mv}`,
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
<style>body{font:14px system-ui,sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;color:#222}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}td:first-child,td:nth-child(2),th:first-child,th:nth-child(2){text-align:left}.best{font-weight:bold}.better{color:#1b7f3b}.worse{color:#b3261e}.ns{color:#767676}svg{display:block;margin:1em 0}</style></head><body>
<h1>TAIA demo report</h1>${quick ? '<p><em>Shortened run (--quick): the numbers show the pipeline, not the method.</em></p>' : ''}
<h2>The mechanism, measured</h2><p>Knowledge held: exact match on the capitals asked in the base's own pretraining style (raw prompts). Format followed: the share of downstream generation answers in the expected form, right or wrong. Fine-tuning seed ${esc(experiment.train.seed)}.</p>
<table><tr><th>model</th><th>knowledge held (%)</th><th>format followed (%)</th><th>downstream average</th></tr>${diag.map((m) => `<tr><td>${esc(m.name)}</td><td>${pct(m.knowledge)}</td><td>${pct(m.format)}</td><td>${average[m.name].toFixed(3)}</td></tr>`).join('')}</table>
${mechanismSvg(diag)}<ul>${checks.map((c) => `<li class="${c.holds ? 'better' : 'worse'}">${c.holds ? '✓' : '✗'} ${esc(c.claim)}: ${esc(c.figures)}</li>`).join('')}</ul><p><b>Verdict (computed):</b> ${esc(mv)}</p>
<h2>Downstream tasks</h2><table><tr><th>task</th><th>metric</th>${bench.models.map((m) => `<th>${esc(m.name)}</th>`).join('')}</tr>
${bench.rows.map((r) => `<tr><td>${esc(r.task)}</td><td>${esc(r.metric)}</td>${r.cells.map((c, i) => `<td class="${r.best.includes(i) ? 'best' : ''}">${fmt(c.value, r.unit)}${deltaHtml(c, r.unit)}${c.mark ? `<sup>${esc(c.mark)}</sup>` : ''}</td>`).join('')}</tr>`).join('\n')}
${bench.average ? `<tr><td><b>average</b></td><td></td>${bench.average.cells.map((c, i) => `<td class="${bench.average.best.includes(i) ? 'best' : ''}">${fmt(c.value, bench.average.unit)}</td>`).join('')}</tr>` : ''}</table>
<p>Δ against the base: <span class="better">▲ green</span> better, <span class="worse">▼ red</span> worse, both at p &lt; 0.05 (McNemar on the per-example records); <span class="ns">grey, n.s.</span>: not told from noise. Bold: the best of the row.</p>
${barsSvg(bench)}
<p><b>Verdict (computed):</b> ${esc(v)}</p>
<h2>Per-layer scan: the FFN of one layer reverted to base</h2><p>Points against the full fine-tune, per task (the study's revert-ffn-each scan).</p>${scanSvg(scan)}
<h2>Per-layer weight deltas of the fine-tune</h2><p>${esc(`Relative change per block: ${blocks}. Three-way check of the TAIA output: ${check}.`)}</p>${deltaSvg(delta)}
<h2>Training loss</h2>${lossSvg(metrics)}
</body></html>`;
  writeFileSync(path.join(dir, 'report.html'), html);
  const headline = `${mechanismTable(diag, average)}\n\n${checks.map((c) => `${c.holds ? '✓' : '✗'} ${c.claim}: ${c.figures}`).join('\n')}\n\n${table(bench).replace(/\*\*/g, '')}\n\n${v}\n${mv}`;
  return { markdown, headline };
}
