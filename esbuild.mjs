// Builds one bundle per entry point. `node esbuild.mjs --watch` rebuilds on change.
import * as esbuild from 'esbuild';
import { existsSync } from 'node:fs';

const production = process.argv.includes('--production');
const watch = process.argv.includes('--watch');

/** Node bundles: the extension host entry, the CLI, and (when present) the trainer and language server. */
const nodeEntries = {
  extension: 'src/extension/extension.ts',
  cli: 'src/cli/main.ts',
  'merge-worker': 'src/extension/mergeWorker.ts',
  'diff-worker': 'src/extension/diffWorker.ts',
  'diff-part-worker': 'src/core/delta/partWorker.ts',
  trainer: 'src/trainer/main.ts',
  server: 'src/server/main.ts',
};

const entryPoints = Object.fromEntries(Object.entries(nodeEntries).filter(([, file]) => existsSync(file)));

const options = {
  entryPoints,
  outdir: 'dist',
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  external: ['vscode'],
  sourcemap: production ? false : 'linked',
  minify: production,
  logLevel: 'warning',
  // First and last statements of every bundle: the extension reports its load cost with its activation.
  banner: { js: 'var __taiaBundleStart = performance.now();' },
  footer: { js: 'var __taiaBundleEnd = performance.now();' },
};

/** Browser bundles of the webviews: one IIFE each, no Node built-ins. */
const webviewOptions = {
  entryPoints: { deltaReview: 'src/webview/deltaReview/main.ts' },
  outdir: 'dist/webview',
  bundle: true,
  platform: 'browser',
  target: 'chrome120',
  format: 'iife',
  sourcemap: production ? false : 'linked',
  minify: production,
  logLevel: 'warning',
};

if (watch) {
  for (const o of [options, webviewOptions]) await (await esbuild.context(o)).watch();
} else {
  await Promise.all([esbuild.build(options), esbuild.build(webviewOptions)]);
}
