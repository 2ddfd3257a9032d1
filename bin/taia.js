#!/usr/bin/env node
// Thin launcher: the CLI itself is the esbuild bundle built by `npm install` (prepare) or `npm run build`.
require('../dist/cli.js')
  .runCli(process.argv.slice(2))
  .then((code) => {
    process.exitCode = code;
  });
