import { webviewPage } from '../shared/page';

/**
 * The static shell of the experiments table; its script fills it in. No vscode import, so the page
 * tests build the same page. The bundle's own CSS (uPlot's) sits beside the script.
 */
export function experimentsHtml(policy: string, nonce: string, script: string, style: string): string {
  const page = webviewPage({
    policy,
    nonce,
    script,
    style,
    title: 'Experiments',
    body: `<header><h1>Experiments</h1><p id="subtitle" class="muted"></p>
<div class="toolbar"><vscode-textfield id="filter" placeholder="Filter runs (any column)" aria-label="Filter runs"></vscode-textfield>
<vscode-button id="columns-button" secondary aria-expanded="false" aria-controls="columns">Columns…</vscode-button>
<vscode-button id="compare" disabled>Compare selected</vscode-button><span id="count" class="muted" role="status"></span></div>
<fieldset id="columns" class="columns" hidden><legend>Columns</legend></fieldset></header>
<p id="message" class="alarm" role="alert" hidden></p>
<div id="table" class="table-scroll"></div>
<h2>Selected runs</h2>
<div class="toolbar"><label for="smoothing">Smoothing</label><input id="smoothing" type="range" min="0" max="0.99" step="0.01" value="0"><span id="smoothing-value" class="muted">0</span>
<vscode-checkbox id="log-scale" label="Log scale"></vscode-checkbox></div>
<p id="plot-hint" class="muted">Select runs in the table to plot them.</p>
<div id="plots" class="experiment-plots"></div>`,
  });
  return page.replace('</head>', `<link rel="stylesheet" href="${script.replace(/\.js$/, '.css')}"></head>`);
}
