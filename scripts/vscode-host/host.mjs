// Starts a real VS Code (code-server: VS Code's server and web workbench) on loopback with a temporary
// profile, and opens its workbench in headless Chromium through playwright-core. Used by the test
// launcher (extension tests) and the UI test. See shared/vscode-host.md for the facts this relies on.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync, readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const cache = path.join(repo, '.vscode-test');

function find(prefix) {
  const hit = readdirSync(cache).find((n) => n.startsWith(prefix) && !n.endsWith('.partial'));
  if (!hit) throw new Error(`${prefix}* not found in ${cache}: run scripts/vscode-host/install.sh`);
  return path.join(cache, hit);
}

export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Starts code-server. `trusted: false` enables workspace trust without a startup prompt, so the folder
 * opens in Restricted Mode (untrusted); otherwise trust is disabled, i.e. every folder is trusted.
 */
export async function startCodeServer({ vsix, trusted = true, log = () => {} } = {}) {
  const node = path.join(find('node-'), 'bin', 'node');
  const entry = path.join(find('code-server-'), 'lib', 'node_modules', 'code-server', 'out', 'node', 'entry.js');
  const tmp = mkdtempSync(path.join(tmpdir(), 'taia-host-'));
  const dirs = { userData: path.join(tmp, 'user-data'), extensions: path.join(tmp, 'extensions'), xdg: path.join(tmp, 'xdg') };
  for (const d of Object.values(dirs)) mkdirSync(d, { recursive: true });
  const settings = trusted
    ? { 'workbench.startupEditor': 'none' }
    : { 'workbench.startupEditor': 'none', 'security.workspace.trust.enabled': true, 'security.workspace.trust.startupPrompt': 'never', 'security.workspace.trust.banner': 'never' };
  mkdirSync(path.join(dirs.userData, 'User'), { recursive: true });
  writeFileSync(path.join(dirs.userData, 'User', 'settings.json'), JSON.stringify(settings));
  const config = path.join(tmp, 'config.yaml');
  writeFileSync(config, 'auth: none\n');
  const env = { ...process.env, XDG_CONFIG_HOME: path.join(dirs.xdg, 'config'), XDG_DATA_HOME: path.join(dirs.xdg, 'data'), XDG_CACHE_HOME: path.join(dirs.xdg, 'cache'), HOME: tmp };
  const common = ['--config', config, '--user-data-dir', dirs.userData, '--extensions-dir', dirs.extensions];
  if (vsix) execFileSync(node, [entry, ...common, '--install-extension', vsix], { env, stdio: 'pipe' });
  const port = await freePort();
  const args = [entry, ...common, '--bind-addr', `127.0.0.1:${port}`, '--auth', 'none', '--disable-telemetry', '--disable-update-check', '--vscode-option', 'enable-smoke-test-driver'];
  if (trusted) args.push('--disable-workspace-trust');
  const proc = spawn(node, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  proc.stdout.on('data', (d) => log(`[code-server] ${d}`));
  proc.stderr.on('data', (d) => log(`[code-server] ${d}`));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`code-server exited with ${proc.exitCode} before it was healthy`);
    try {
      if ((await fetch(`${url}/healthz`)).ok) break;
    } catch {}
    if (Date.now() > deadline) throw new Error('code-server did not answer /healthz within 60 s');
    await new Promise((r) => setTimeout(r, 200));
  }
  const installed = readdirSync(dirs.extensions).find((n) => n.startsWith('taia-lab.taia-lab-'));
  return {
    url,
    extensionsDir: dirs.extensions,
    /** Where the .vsix was installed, when one was. */
    installedExtension: installed && path.join(dirs.extensions, installed),
    async stop() {
      proc.kill('SIGTERM');
      await new Promise((r) => (proc.exitCode !== null ? r() : proc.once('exit', r)));
      rmSync(tmp, { recursive: true, force: true });
    },
  };
}

/** Opens the workbench on `folder` in headless Chromium; `payload` pairs go to the workbench as is. */
export async function openWorkbench(server, folder, payload = []) {
  const { chromium } = await import('playwright-core');
  const profile = mkdtempSync(path.join(tmpdir(), 'taia-chromium-'));
  const context = await chromium.launchPersistentContext(profile, { executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS, viewport: { width: 1400, height: 900 } });
  const page = context.pages()[0] ?? (await context.newPage());
  const query = new URLSearchParams({ folder });
  if (payload.length) query.set('payload', JSON.stringify(payload));
  return {
    page,
    goto: () => page.goto(`${server.url}/?${query}`),
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
