import { webviewPage } from '../shared/page';

// Static page shells of the run webviews: the scripts fill them in with text from the run files.

export function runDashboardHtml(policy: string, nonce: string, script: string, style: string): string {
  return webviewPage({
    policy,
    nonce,
    script,
    style,
    title: 'Run',
    body: `<header><h1 id="title">Run</h1><p id="subtitle" class="muted"></p>
<div class="toolbar" role="status"><span id="state" class="state"><span id="state-icon" aria-hidden="true"></span> <span id="state-label"></span></span>
<progress id="progress" max="1" value="0" aria-labelledby="progress-text"></progress><span id="progress-text"></span><span id="eta" class="muted"></span></div>
<div class="toolbar"><button id="cancel" hidden>Cancel run</button><button id="open-log">Open train.log</button><button id="open-config">Open config.json</button></div></header>
<p id="message" class="alarm" role="alert" hidden></p>
<section id="failure" class="alarm" role="alert" hidden><p id="error"></p><pre id="stderr"></pre></section>
<section id="job-log-section" hidden><h2>Job output</h2><pre id="job-log" tabindex="0" aria-label="Slurm job output"></pre></section>
<main><div class="charts"><h2>Loss</h2><div id="chart-loss"></div><h2>Learning rate</h2><div id="chart-lr"></div><h2>Throughput (tokens/s)</h2><div id="chart-throughput"></div><section id="gpu" hidden><h2>Peak GPU memory (GiB)</h2><div id="chart-gpu"></div></section></div>
<aside><h2>Latest</h2><div id="latest"></div><h2>Config</h2><div id="config"></div></aside></main>`,
  });
}

export function compareRunsHtml(policy: string, nonce: string, script: string, style: string): string {
  return webviewPage({
    policy,
    nonce,
    script,
    style,
    title: 'Compare runs',
    body: `<header><h1>Compare runs</h1>
<div class="toolbar"><label><input id="only-differs" type="checkbox" checked> Show only what differs</label><span id="count" class="muted" role="status"></span>
<button id="export-markdown">Export Markdown</button><button id="export-csv">Export CSV</button></div></header>
<p id="message" class="alarm" role="alert" hidden></p>
<h2>Loss</h2><div id="chart"></div>
<h2>Runs</h2><div id="table" class="table-scroll"></div>`,
  });
}
