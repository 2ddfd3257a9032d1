#!/usr/bin/env node
// Thin launcher: the CLI itself is the esbuild bundle built by `npm install` (prepare) or `npm run build`.
require('../dist/cli.js');
