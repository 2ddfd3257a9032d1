// The examples behind a benchmark cell: prompt, reference and each model's answer with ✓ / ✗, filtered
// to the ones that flipped between the baseline and the model clicked, with the counts McNemar's test
// uses. Text from the records goes in as text only.
import type { ExampleRow, ExamplesView } from '../../core/results/examples';
import { formatP, METHOD_LABEL } from '../../core/results/format';
import type { TestResult } from '../../core/results/stats';
import { el } from '../shared/dom';
import type { ExampleFilter } from './protocol';

/** Rows longer than this are cut in the table (the tooltip has the whole text). */
const CLIP = 400;
/** The table shows this many rows at most; the line above it says how many matched. */
export const MAX_ROWS = 500;

export function filterExamples(view: ExamplesView, filter: ExampleFilter): ExampleRow[] {
  if (filter === 'all' || !view.binary) return view.rows;
  return view.rows.filter((r) => (filter === 'flipped' ? r.flip !== 'same' : r.flip === filter));
}

const clip = (s: string | undefined) => (s === undefined ? '—' : s.length > CLIP ? `${s.slice(0, CLIP)}…` : s);

function textCell(text: string | undefined, cls: string): HTMLTableCellElement {
  const td = el('td', { class: cls }, clip(text));
  if (text && text.length > CLIP) td.title = text;
  return td;
}

/** "7 fixed (wrong in ft, right in taia) · 1 broken (…) · 10 right in both · 12 wrong in both, of 30 paired · McNemar b = 1, c = 7, p = 0.070". */
export function countsLine(view: ExamplesView, test: TestResult | undefined): string {
  const [base, other] = view.models;
  const c = view.counts;
  if (!view.binary)
    return `${c.paired} paired examples; the values are not 0/1, so nothing "flips" (the diff uses a paired bootstrap).`;
  const parts = [
    `${c.fixed} fixed (wrong in ${base}, right in ${other})`,
    `${c.broken} broken (right in ${base}, wrong in ${other})`,
    `${c.bothRight} right in both`,
    `${c.bothWrong} wrong in both, of ${c.paired} paired`,
  ];
  const mc = `McNemar b = ${c.broken}, c = ${c.fixed}${test ? `, p = ${formatP(test.p)} (${METHOD_LABEL[test.method]})` : ''}`;
  return `${parts.join(' · ')} · ${mc}`;
}

/** Fills `root` with the view: heading, counts, the filter, the table. `onFilter` is called when the filter changes. */
export function renderExamples(
  root: HTMLElement,
  view: ExamplesView,
  filter: ExampleFilter,
  test: TestResult | undefined,
  onFilter: (f: ExampleFilter) => void,
  onClose: () => void,
): void {
  const [base, other] = view.models;
  const header = el('div', { class: 'toolbar' });
  header.append(
    el('h2', { id: 'examples-title' }, `Examples of ${view.task} / ${view.metric}: ${other} against ${base}`),
  );
  const close = el('button', { id: 'examples-close', title: 'Close the examples' }, 'Close');
  close.addEventListener('click', onClose);
  header.append(close);
  const counts = el('p', { id: 'examples-counts', role: 'status' }, countsLine(view, test));
  const filters = el('div', { class: 'toolbar', role: 'radiogroup', 'aria-label': 'Which examples' });
  const options: [ExampleFilter, string, number][] = view.binary
    ? [
        ['flipped', 'Flipped', view.counts.fixed + view.counts.broken],
        ['fixed', `Fixed by ${other}`, view.counts.fixed],
        ['broken', `Broken by ${other}`, view.counts.broken],
        ['all', 'All', view.rows.length],
      ]
    : [['all', 'All', view.rows.length]];
  for (const [value, label, n] of options) {
    const id = `examples-filter-${value}`;
    const input = el('input', { type: 'radio', name: 'examples-filter', id, value });
    input.checked = value === (view.binary ? filter : 'all');
    input.addEventListener('change', () => onFilter(value));
    const l = el('label', { for: id });
    l.append(input, ` ${label} (${n})`);
    filters.append(l);
  }
  const rows = filterExamples(view, filter);
  const shown = rows.slice(0, MAX_ROWS);
  const note = el(
    'p',
    { class: 'muted', id: 'examples-shown' },
    rows.length > shown.length
      ? `showing the first ${shown.length} of ${rows.length}`
      : `${rows.length} example${rows.length === 1 ? '' : 's'}`,
  );
  const table = el('table', { class: 'compare examples' });
  const head = el('tr');
  head.append(
    el('th', { scope: 'col' }, 'id'),
    el('th', { scope: 'col' }, 'prompt'),
    el('th', { scope: 'col' }, 'reference'),
  );
  view.models.forEach((m, i) => head.append(el('th', { scope: 'col', class: i < 2 ? 'compared' : '' }, m)));
  table.append(el('thead'));
  table.tHead!.append(head);
  const body = el('tbody');
  for (const r of shown) {
    const tr = el('tr', { class: `flip-${r.flip}`, 'data-id': r.id });
    tr.append(el('th', { scope: 'row' }, r.id), textCell(r.prompt, 'prompt'), textCell(r.target, 'target'));
    for (const a of r.answers) {
      if (!a) {
        tr.append(el('td', { class: 'answer muted' }, 'no record'));
        continue;
      }
      const right = a.value === 1;
      const wrong = a.value === 0;
      const td = el('td', { class: `answer ${right ? 'right' : wrong ? 'wrong' : ''}` });
      td.append(
        el(
          'span',
          { class: 'verdict', 'aria-label': right ? 'right' : wrong ? 'wrong' : `score ${a.value}` },
          right ? '✓' : wrong ? '✗' : String(a.value),
        ),
        ' ',
        clip(a.prediction),
      );
      if (a.prediction && a.prediction.length > CLIP) td.title = a.prediction;
      tr.append(td);
    }
    body.append(tr);
  }
  table.append(body);
  const scroll = el('div', { class: 'table-scroll' });
  scroll.append(table);
  root.replaceChildren(header, counts, filters, note, scroll);
  root.hidden = false;
}
