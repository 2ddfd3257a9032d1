import { webviewPage } from '../shared/page';

/** The static shell of the benchmark diff webview; its script fills it in with names from result files. */
export function benchmarkDiffHtml(policy: string, nonce: string, script: string, style: string): string {
  return webviewPage({
    policy,
    nonce,
    script,
    style,
    title: 'Benchmark diff',
    body: `<header><h1>Benchmark diff</h1><p id="subtitle" class="muted"></p>
<div class="toolbar"><label>Baseline <select id="baseline"></select></label>
<label>Correction <select id="correction"><option value="none">none</option><option value="holm">Holm (family-wise)</option><option value="bh">Benjamini–Hochberg (FDR)</option></select></label>
<label><input id="only-differs" type="checkbox" checked> Show only what differs</label><span id="count" class="muted" role="status"></span></div>
<div class="toolbar"><button id="export-markdown">Export Markdown</button><button id="export-csv">Export CSV</button><button id="export-latex">Export LaTeX</button></div></header>
<p id="message" class="alarm" role="alert" hidden></p>
<ul id="problems" class="alarm" role="alert" hidden></ul>
<div id="table" class="table-scroll"></div>
<p id="legend" class="muted"></p>
<ul id="notes" class="muted"></ul>
<section id="examples" aria-live="polite" hidden></section>
<h2>Per task</h2><div id="charts" class="bench-charts"></div>`,
  });
}
