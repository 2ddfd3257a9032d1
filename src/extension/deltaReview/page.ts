import { webviewPage } from '../shared/page';

/** The page shell; shared with the headless-browser test, which serves the same bundle and stylesheet. */
export function reviewHtml(policy: string, n: string, script: string, style: string): string {
  return webviewPage({
    policy,
    nonce: n,
    script,
    style,
    title: 'Weight-delta review',
    body: `<header><h1 id="title">Weight-delta review</h1><p id="subtitle" class="muted"></p>
<div class="toolbar"><progress id="progress" max="1" value="0"></progress><span id="status" role="status"></span>
<button id="cancel">Cancel</button>
<label>Colour by <select id="metric"><option value="relative">relative change ‖Δ‖/‖W‖</option><option value="absolute">absolute ‖Δ‖</option><option value="cosine">1 − cosine</option><option value="spectrum">top singular value</option></select></label>
<label>Filter <input id="filter" type="search" placeholder="module, block or name"></label>
<button id="export-md" disabled>Export Markdown</button><button id="export-csv" disabled>Export CSV</button></div></header>
<section id="verdict"></section>
<main><div><h2>Per block</h2><div id="summary"></div><h2>Layers × modules</h2><div id="heatmap"></div><h2>Outside the layers</h2><div id="outside"></div><h2>Tensors</h2><div id="ranking"></div></div>
<aside id="detail" aria-live="polite"></aside></main>`,
  });
}
