import { webviewPage } from '../shared/page';

/** The static shell of the study page; its script fills it in (every name from a file as text). */
export function studyPageHtml(policy: string, nonce: string, script: string, style: string): string {
  return webviewPage({
    policy,
    nonce,
    script,
    style,
    title: 'TAIA study',
    body: `<header><h1 id="title">TAIA study</h1><p id="subtitle" class="muted"></p>
<div class="toolbar"><label>Correction <select id="correction"><option value="none">none</option><option value="holm">Holm (family-wise)</option><option value="bh">Benjamini–Hochberg (FDR)</option></select></label>
<button id="export-csv">Export CSV</button><button id="export-latex">Export LaTeX</button><span id="count" class="muted" role="status"></span></div></header>
<p id="message" class="alarm" role="alert" hidden></p>
<ul id="problems" class="alarm" role="alert" hidden></ul>
<div id="table" class="table-scroll"></div>
<p id="legend" class="muted"></p>
<section id="scan-section" hidden><h2>Per-layer scan</h2><p class="muted">Each row reverts the FFN of the layers named to base; cells show points against the full fine-tune.</p><div id="heatmap" class="table-scroll"></div></section>`,
  });
}
