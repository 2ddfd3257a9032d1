#!/usr/bin/env node
// UI test: the packaged extension in a real VS Code workbench (code-server) driven by headless Chromium.
// Opens the TAIA Lab view on a folder with generated checkpoints, runs a TAIA command from the command
// palette, asserts what the page shows, and keeps screenshots in test-artifacts/ui/.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { startCodeServer, openWorkbench } from '../../scripts/vscode-host/host.mjs';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const require = createRequire(import.meta.url);
const { writeLlama, writeAdapter, llamaTensorShapes } = require(path.join(repo, 'out/test/helpers/models.js'));
const artifacts = path.join(repo, 'test-artifacts', 'ui');
mkdirSync(artifacts, { recursive: true });

const shape = { layers: 2, hidden: 16, intermediate: 24, vocab: 32, heads: 4, kvHeads: 2 };
const workspace = mkdtempSync(path.join(tmpdir(), 'taia-ui-'));
writeLlama(path.join(workspace, 'models', 'base'), shape, { seed: 1 });
writeLlama(path.join(workspace, 'models', 'ft'), shape, { seed: 2 });
writeAdapter(path.join(workspace, 'adapters', 'lora-qv'), llamaTensorShapes(shape), { r: 4, alpha: 8, targets: ['q_proj', 'v_proj'] });

const server = await startCodeServer({ vsix: process.env.TAIA_VSIX ?? path.join(repo, 'taia-lab.vsix') });
const wb = await openWorkbench(server, workspace);
const page = wb.page;
const started = Date.now();
let failed = false;
try {
  await wb.goto();
  await page.waitForSelector('.monaco-workbench', { timeout: 60000 });
  // The activity bar entry contributed by the extension.
  await page.locator('.activitybar [aria-label^="TAIA Lab"]').first().click({ timeout: 30000 });
  const checkpoint = page.locator('.monaco-list-row', { hasText: 'lora-qv' }).first();
  await checkpoint.waitFor({ timeout: 30000 });
  const rowText = await page.locator('.monaco-list-row', { hasText: 'lora-qv' }).first().innerText();
  if (!/LoRA r=4 α=8/.test(rowText)) throw new Error(`adapter row shows '${rowText}'`);
  await page.screenshot({ path: path.join(artifacts, 'views.png') });
  // Run a command from the palette: the merge wizard's first step lists the workspace's checkpoints.
  await page.keyboard.press('F1');
  await page.locator('.quick-input-widget input').fill('>TAIA: Apply TAIA merge');
  await page.locator('.quick-input-list .monaco-list-row', { hasText: 'Apply TAIA merge' }).first().waitFor({ timeout: 15000 });
  await page.keyboard.press('Enter');
  await page.locator('.quick-input-widget', { hasText: 'TAIA merge (1/4)' }).waitFor({ timeout: 15000 });
  const items = await page.locator('.quick-input-list .monaco-list-row').allInnerTexts();
  for (const name of ['base', 'ft', 'lora-qv']) if (!items.some((t) => t.startsWith(name))) throw new Error(`quick pick lacks '${name}': ${JSON.stringify(items)}`);
  await page.screenshot({ path: path.join(artifacts, 'workbench.png') });
  console.log(`UI test passed in ${((Date.now() - started) / 1000).toFixed(1)} s; screenshots in ${path.relative(repo, artifacts)}/`);
} catch (e) {
  failed = true;
  await page.screenshot({ path: path.join(artifacts, 'failure.png') }).catch(() => {});
  console.error(`UI test failed: ${e instanceof Error ? e.message : e} (screenshot: test-artifacts/ui/failure.png)`);
} finally {
  await wb.close();
  await server.stop();
  rmSync(workspace, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
