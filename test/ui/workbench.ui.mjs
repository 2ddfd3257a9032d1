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
rmSync(path.join(artifacts, 'failure.png'), { force: true });

const shape = { layers: 2, hidden: 16, intermediate: 24, vocab: 32, heads: 4, kvHeads: 2 };
const workspace = mkdtempSync(path.join(tmpdir(), 'taia-ui-'));
writeLlama(path.join(workspace, 'models', 'base'), shape, { seed: 1 });
writeLlama(path.join(workspace, 'models', 'ft'), shape, { seed: 2 });
writeAdapter(path.join(workspace, 'adapters', 'lora-qv'), llamaTensorShapes(shape), {
  r: 4,
  alpha: 8,
  targets: ['q_proj', 'v_proj'],
});

const limitS = Number(process.env.TAIA_UI_TIMEOUT_S ?? 180);
let server;
let wb;
let page;
let done;
/** Ends the test on every path (pass, failure, timeout, signal): browser, code-server, temp folders. */
function finish(ok, message) {
  done ??= (async () => {
    clearTimeout(timer);
    if (!ok) await page?.screenshot({ path: path.join(artifacts, 'failure.png'), timeout: 10000 }).catch(() => {});
    (ok ? console.log : console.error)(
      ok
        ? `PASS ${message}`
        : `FAIL workbench UI test: ${message}${page ? ' (screenshot: test-artifacts/ui/failure.png)' : ''}`,
    );
    await wb?.close().catch(() => {});
    await server?.stop().catch(() => {});
    rmSync(workspace, { recursive: true, force: true });
    process.exit(ok ? 0 : 1);
  })();
  return done;
}
const timer = setTimeout(
  () => void finish(false, `did not finish within ${limitS} s (TAIA_UI_TIMEOUT_S)`),
  limitS * 1000,
);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => void finish(false, sig));

/**
 * Runs a command from the palette. Right after start the palette can lack a command for a moment: the
 * merge command's `enablement` is isWorkspaceTrusted, a context key the workbench sets once workspace
 * trust is initialised. So the palette is reopened until the entry shows (it must within 30 s).
 */
async function runFromPalette(title) {
  const entry = page.locator('.quick-input-list .monaco-list-row', { hasText: title }).first();
  for (let attempt = 1; ; attempt++) {
    await page.keyboard.press('F1');
    await page.locator('.quick-input-widget input').fill(`>${title}`);
    if (
      await entry.waitFor({ timeout: 3000 }).then(
        () => true,
        () => false,
      )
    ) {
      if (attempt > 1) console.log(`  (the palette listed '${title}' at attempt ${attempt})`);
      break;
    }
    if (attempt === 10)
      throw new Error(
        `the command palette does not list '${title}': ${JSON.stringify(await page.locator('.quick-input-list .monaco-list-row').allInnerTexts())}`,
      );
    await page.keyboard.press('Escape');
  }
  await entry.click();
}

/** Waits for a quick pick whose title contains `title` and picks the row labelled `label`. */
async function pickItem(title, label) {
  await page.locator('.quick-input-widget', { hasText: title }).waitFor({ timeout: 15000 });
  const rows = page.locator('.quick-input-list .monaco-list-row');
  const labels = await rows.evaluateAll((els) =>
    els.map((e) => e.querySelector('.label-name')?.textContent?.trim() ?? ''),
  );
  const index = labels.indexOf(label);
  if (index < 0) throw new Error(`the quick pick '${title}' has no '${label}': ${JSON.stringify(labels)}`);
  await rows.nth(index).click();
}

const started = Date.now();
try {
  server = await startCodeServer({ vsix: process.env.TAIA_VSIX ?? path.join(repo, 'taia-lab.vsix') });
  wb = await openWorkbench(server, workspace);
  page = wb.page;
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
  await runFromPalette('TAIA: Apply TAIA merge');
  await page.locator('.quick-input-widget', { hasText: 'TAIA merge (1/5)' }).waitFor({ timeout: 15000 });
  const items = await page.locator('.quick-input-list .monaco-list-row').allInnerTexts();
  for (const name of ['base', 'ft', 'lora-qv'])
    if (!items.some((t) => t.startsWith(name))) throw new Error(`quick pick lacks '${name}': ${JSON.stringify(items)}`);
  // Browse… is always there, and a typed absolute path is taken as the answer (issue 18: it was ignored).
  if (!items.some((t) => t.includes('Browse…'))) throw new Error(`quick pick lacks Browse…: ${JSON.stringify(items)}`);
  await page.screenshot({ path: path.join(artifacts, 'workbench.png') });
  await page.locator('.quick-input-widget input').fill(path.join(workspace, 'models', 'ft'));
  await page.keyboard.press('Enter');
  await page
    .locator('.quick-input-widget', { hasText: 'TAIA merge (2/5): the base model of ft' })
    .waitFor({ timeout: 15000 });
  await page.keyboard.press('Escape');

  // The weight-delta review, then a window reload: the panel must come back through its serializer.
  await runFromPalette('TAIA: Inspect weight deltas');
  await pickItem('the fine-tuned model, LoRA adapter', 'ft');
  await pickItem('the base model of ft', 'base');
  const review = () => page.frameLocator('iframe.webview.ready').frameLocator('#active-frame');
  const cells = () => review().locator('button.cell');
  // Cells stream in as tensors are compared: count them once the review is done (the page enables its
  // exports only then).
  const finished = () => review().locator('#export-md:not([disabled])').waitFor({ timeout: 60000 });
  await finished();
  const before = await cells().count();
  // Reload Window shuts the workbench down as a real reload does (saving editor state), then reopens it.
  const reloaded = page.waitForEvent('load', { timeout: 60000 });
  await runFromPalette('Developer: Reload Window');
  await reloaded;
  await page.waitForSelector('.monaco-workbench', { timeout: 60000 });
  await finished();
  const after = await cells().count();
  if (before === 0 || after !== before)
    throw new Error(`the review showed ${before} cells before the reload and ${after} after`);
  await page.screenshot({ path: path.join(artifacts, 'review-restored.png') });
  await finish(
    true,
    `workbench UI test in ${((Date.now() - started) / 1000).toFixed(1)} s; screenshots in ${path.relative(repo, artifacts)}/`,
  );
} catch (e) {
  await finish(false, e instanceof Error ? e.message : String(e));
}
