#!/usr/bin/env node
// Benchmark: how long the experiment language server takes to check a 1,000-line experiment file once
// the base checkpoint's headers have been read (target: under 50 ms). The check is the server's own
// code (src/server/analysis.ts, bundled here with esbuild), on a generated 32-layer Llama checkpoint
// (291 tensors, real names, tiny shapes) and dataset; then the same edit through the real server
// (dist/server.js --stdio, built by `node esbuild.mjs`), from didChange to publishDiagnostics.
//
//   node bench/lsp.mjs [--runs 50]
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import * as esbuild from 'esbuild';
import * as lsp from 'vscode-languageserver/node.js';

const { values: opt } = parseArgs({ options: { runs: { type: 'string', default: '50' } } });
const runs = Number(opt.runs);
const repo = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const work = mkdtempSync(path.join(tmpdir(), 'taia-bench-lsp-'));

/** The server's check and the test helpers, bundled into one CommonJS module. */
async function load() {
  const out = path.join(work, 'bench-bundle.cjs');
  await esbuild.build({
    stdin: {
      contents: `export { diagnose } from './src/server/analysis'; export { buildModel } from './src/server/model';
                 export { writeLlama } from './test/helpers/models'; export { writeAlpacaDataset } from './test/helpers/training';
                 export { TextDocument } from 'vscode-languageserver-textdocument';`,
      resolveDir: repo,
      loader: 'ts',
    },
    bundle: true,
    platform: 'node',
    format: 'cjs',
    outfile: out,
    logLevel: 'error',
  });
  return (await import(pathToFileURL(out).href)).default;
}

/** 1,000 lines: every section, comments, a long target_modules list, a few mistakes to report. */
function experimentText(variant) {
  const lines = [
    '# benchmark experiment',
    'base: model',
    'dataset: data/train.jsonl',
    'engine: tfjs',
    'device: cpu',
    'train:',
    '  method: lora',
    `  batch_size: ${4 + (variant % 4)}`,
    '  max_seq_length: 256',
    '  learning_rate: 2e-4',
    '  lr_scheduler_type: cosin',
    '  warmup_ratio: 0.03',
    'lora:',
    '  r: 16',
    '  lora_alpha: 32',
    '  target_modules:',
  ];
  const modules = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj', 'qq_proj'];
  for (let i = 0; lines.length < 990; i++)
    lines.push(i % 10 === 9 ? `    # comment ${i}` : `    - ${modules[i % modules.length]}`);
  lines.push('merge:', '  recipe: taia', 'eval:', '  tasks: []', 'unknwon_key: 1');
  while (lines.length < 1000) lines.push(`# padding ${lines.length}`);
  return lines.join('\n') + '\n';
}

const stats = (ms) => {
  const s = [...ms].sort((a, b) => a - b);
  return `median ${s[Math.floor(s.length / 2)].toFixed(1)} ms, p95 ${s[Math.floor(s.length * 0.95)].toFixed(1)} ms, max ${s.at(-1).toFixed(1)} ms`;
};

async function inProcess(m, file) {
  const opts = { totalMem: 64 * 2 ** 30 };
  const check = async (variant) => {
    const text = experimentText(variant);
    const t = performance.now();
    const diagnostics = await m.diagnose(
      m.TextDocument.create(pathToFileURL(file).href, 'taia-experiment', variant, text),
      m.buildModel(text, file),
      opts,
    );
    return { ms: performance.now() - t, diagnostics };
  };
  const first = await check(0);
  const warm = [];
  for (let i = 1; i <= runs; i++) warm.push((await check(i)).ms);
  console.log(`${experimentText(0).split('\n').length - 1}-line experiment, ${first.diagnostics.length} diagnostics`);
  console.log(`check, first (reads headers and the dataset): ${first.ms.toFixed(1)} ms`);
  console.log(`check, after (${runs} edits, parse + validate + file checks): ${stats(warm)}`);
}

/** didChange → publishDiagnostics through the real server; the server waits 150 ms (its debounce) first. */
async function overLsp(file) {
  const server = spawn(process.execPath, [path.join(repo, 'dist', 'server.js'), '--stdio'], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const rpc = lsp.createProtocolConnection(
    new lsp.StreamMessageReader(server.stdout),
    new lsp.StreamMessageWriter(server.stdin),
  );
  let resolve;
  rpc.onNotification(lsp.PublishDiagnosticsNotification.type, () => resolve?.());
  rpc.listen();
  await rpc.sendRequest(lsp.InitializeRequest.type, {
    processId: process.pid,
    rootUri: pathToFileURL(work).href,
    capabilities: {},
  });
  await rpc.sendNotification(lsp.InitializedNotification.type, {});
  const uri = pathToFileURL(file).href;
  const published = (send) => new Promise((r) => ((resolve = r), send()));
  await published(() =>
    rpc.sendNotification(lsp.DidOpenTextDocumentNotification.type, {
      textDocument: { uri, languageId: 'taia-experiment', version: 0, text: experimentText(0) },
    }),
  );
  const ms = [];
  for (let v = 1; v <= Math.min(runs, 20); v++) {
    const t = performance.now();
    await published(() =>
      rpc.sendNotification(lsp.DidChangeTextDocumentNotification.type, {
        textDocument: { uri, version: v },
        contentChanges: [{ text: experimentText(v) }],
      }),
    );
    ms.push(performance.now() - t - 150);
  }
  console.log(`over LSP, didChange → publishDiagnostics minus the 150 ms debounce: ${stats(ms)}`);
  await rpc.sendRequest(lsp.ShutdownRequest.type);
  rpc.dispose();
  server.kill();
}

try {
  const m = await load();
  m.writeLlama(
    path.join(work, 'model'),
    { layers: 32, hidden: 16, intermediate: 32, vocab: 64, heads: 4, kvHeads: 2 },
    { dtype: 'F32', seed: 1 },
  );
  m.writeAlpacaDataset(path.join(work, 'data', 'train.jsonl'), 2000);
  const file = path.join(work, 'bench.taia.yaml');
  writeFileSync(file, experimentText(0));
  await inProcess(m, file);
  await overLsp(file);
} finally {
  rmSync(work, { recursive: true, force: true });
}
