// Starts a real VS Code (code-server: VS Code's server and web workbench) on loopback with a temporary
// profile, and opens its workbench in headless Chromium through playwright-core. Used by the test
// launcher (extension tests) and the UI tests. See shared/vscode-host.md for the facts this relies on.
//
// Nothing is written outside one temporary folder per server: code-server gets --config,
// --user-data-dir, --extensions-dir, HOME, XDG_* and TMPDIR there (TMPDIR/XDG_RUNTIME_DIR catch the
// vscode-ipc-*.sock / vscode-git-*.sock, which otherwise pile up in /tmp), and the folder is removed
// on stop(), on a failed start, and when this process exits any other way.
import { spawn, execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync, readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const cache = path.join(repo, '.vscode-test');
export const CHROMIUM = '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

function find(prefix) {
  let names = [];
  try {
    names = readdirSync(cache);
  } catch {
    // no cache folder yet: nothing installed
  }
  const hit = names.find((n) => n.startsWith(prefix) && !n.endsWith('.partial'));
  if (!hit) throw new Error(`${prefix}* not found in ${cache}: run scripts/vscode-host/install.sh`);
  return path.join(cache, hit);
}

const removeTree = (dir) => rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });

/** Cleanups still due when the process exits (synchronous only: 'exit' listeners cannot wait). */
const pending = new Set();
process.on('exit', () => {
  for (const f of pending) {
    try {
      f();
    } catch {
      // best effort at exit: one failed cleanup must not skip the others
    }
  }
});

/** Kills a process group (code-server and everything it started: extension host, file watcher, agent host, ...). */
function killGroup(pid, signal) {
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    return false; // ESRCH: the group is gone
  }
}

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
 * Starts code-server and waits for /healthz.
 *
 * `trusted: true` (default) passes --disable-workspace-trust: every folder is trusted, as in
 * @vscode/test-electron's runs.
 * `trusted: false` opens folders UNTRUSTED (Restricted Mode). --disable-workspace-trust is left out, so the
 * server hands the workbench `enableWorkspaceTrust: true` (VS Code's server sets it to
 * `!args['disable-workspace-trust']`). Trust decisions live in the profile (server --user-data-dir and the
 * browser's storage), and both are fresh here, so no folder is trusted yet; the user settings
 * `security.workspace.trust.startupPrompt: never` and `security.workspace.trust.banner: never` keep the
 * trust dialog and banner away, so nobody answers the question and the folder stays untrusted.
 * Extensions then see `vscode.workspace.isTrusted === false`, the `isWorkspaceTrusted` context key is
 * false, and `capabilities.untrustedWorkspaces` of their manifest applies.
 *
 * `vsix`: installed first with `code-server --install-extension` into the same --extensions-dir;
 * `installedExtension` is then the folder it went to.
 *
 * `testDriver: false` leaves out the smoke-test driver, which suppresses notifications: for a person's use.
 */
export async function startCodeServer({
  vsix,
  trusted = true,
  testDriver = true,
  log = () => {},
  installTimeoutMs = 120000,
  healthTimeoutMs = 60000,
} = {}) {
  const node = path.join(find('node-'), 'bin', 'node');
  const entry = path.join(find('code-server-'), 'lib', 'node_modules', 'code-server', 'out', 'node', 'entry.js');
  const tmp = mkdtempSync(path.join(tmpdir(), 'taia-host-'));
  let proc;
  let installer;
  const cleanup = () => {
    if (installer?.exitCode === null) installer.kill('SIGKILL');
    if (proc?.pid) killGroup(proc.pid, 'SIGKILL');
    removeTree(tmp);
  };
  pending.add(cleanup);
  try {
    const dirs = {
      userData: path.join(tmp, 'user-data'),
      extensions: path.join(tmp, 'extensions'),
      xdg: path.join(tmp, 'xdg'),
      tmp: path.join(tmp, 'tmp'),
    };
    for (const d of Object.values(dirs)) mkdirSync(d, { recursive: true });
    const settings = {
      'workbench.startupEditor': 'none',
      'chat.disableAIFeatures': true,
      'workbench.secondarySideBar.defaultVisibility': 'hidden',
      'workbench.tips.enabled': false,
      'extensions.autoCheckUpdates': false,
      'extensions.autoUpdate': false,
      'telemetry.telemetryLevel': 'off',
    };
    if (!trusted)
      Object.assign(settings, {
        'security.workspace.trust.enabled': true,
        'security.workspace.trust.startupPrompt': 'never',
        'security.workspace.trust.banner': 'never',
        'security.workspace.trust.emptyWindow': false,
      });
    mkdirSync(path.join(dirs.userData, 'User'), { recursive: true });
    writeFileSync(path.join(dirs.userData, 'User', 'settings.json'), JSON.stringify(settings, null, 1));
    const config = path.join(tmp, 'config.yaml');
    writeFileSync(config, 'auth: none\n');
    const env = {
      ...process.env,
      HOME: tmp,
      TMPDIR: dirs.tmp,
      XDG_CONFIG_HOME: path.join(dirs.xdg, 'config'),
      XDG_DATA_HOME: path.join(dirs.xdg, 'data'),
      XDG_CACHE_HOME: path.join(dirs.xdg, 'cache'),
      XDG_RUNTIME_DIR: path.join(dirs.xdg, 'run'),
      EXTENSIONS_GALLERY: '{}',
    };
    // EXTENSIONS_GALLERY={} leaves the workbench without a marketplace (no open-vsx.org queries or updates).
    // npm's and the outer test runner's variables have no business in the host.
    for (const k of Object.keys(env)) if (k.startsWith('npm_')) delete env[k];
    const common = ['--config', config, '--user-data-dir', dirs.userData, '--extensions-dir', dirs.extensions];
    if (vsix) {
      await new Promise((resolve, reject) => {
        installer = execFile(
          node,
          [entry, ...common, '--install-extension', path.resolve(vsix)],
          { env, timeout: installTimeoutMs, killSignal: 'SIGKILL' },
          (e, stdout, stderr) =>
            e
              ? reject(
                  new Error(
                    `code-server --install-extension ${vsix} failed: ${e.killed ? `no answer within ${installTimeoutMs / 1000} s` : (stderr || stdout || e.message).toString().trim()}`,
                  ),
                )
              : resolve(),
        );
      });
    }
    const port = await freePort();
    const args = [
      entry,
      ...common,
      '--bind-addr',
      `127.0.0.1:${port}`,
      '--auth',
      'none',
      '--disable-telemetry',
      '--disable-update-check',
      '--disable-getting-started-override',
    ];
    // The smoke-test driver lets the tests drive the workbench, and it hides every notification toast.
    if (testDriver) args.push('--vscode-option', 'enable-smoke-test-driver');
    if (trusted) args.push('--disable-workspace-trust');
    // Its own process group, so that stop() ends everything code-server started, not just its wrapper.
    proc = spawn(node, args, { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    proc.stdout.on('data', (d) => log(`[code-server] ${d}`));
    proc.stderr.on('data', (d) => log(`[code-server] ${d}`));
    const exited = new Promise((r) => proc.once('exit', r));
    const url = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + healthTimeoutMs;
    for (;;) {
      if (proc.exitCode !== null || proc.signalCode !== null)
        throw new Error(
          `code-server exited (${proc.exitCode ?? proc.signalCode}) before /healthz answered; run with TAIA_HOST_VERBOSE=1 to see its output`,
        );
      try {
        if ((await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2000) })).ok) break;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline)
        throw new Error(`code-server did not answer /healthz within ${healthTimeoutMs / 1000} s`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const installed = readdirSync(dirs.extensions).find((n) => n.startsWith('taia-lab.taia-lab-'));
    if (vsix && !installed)
      throw new Error(`the .vsix was installed, but no taia-lab.taia-lab-* folder is in ${dirs.extensions}`);
    let stopped;
    return {
      url,
      extensionsDir: dirs.extensions,
      /** Where the .vsix was installed, when one was. */
      installedExtension: installed && path.join(dirs.extensions, installed),
      /** A new empty folder inside the server's temporary folder (removed with it). */
      emptyFolder: () => mkdtempSync(path.join(tmp, 'empty-')),
      /** Ends code-server and all its processes (TERM, then KILL after 5 s) and removes the temporary folder. */
      stop() {
        stopped ??= (async () => {
          killGroup(proc.pid, 'SIGTERM');
          const end = Date.now() + 5000;
          await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
          // The extension host and helpers may outlive the wrapper by a moment.
          while (Date.now() < end && killGroup(proc.pid, 0)) await new Promise((r) => setTimeout(r, 100));
          killGroup(proc.pid, 'SIGKILL');
          removeTree(tmp);
          pending.delete(cleanup);
        })();
        return stopped;
      },
    };
  } catch (e) {
    cleanup();
    pending.delete(cleanup);
    throw e;
  }
}

/** Opens the workbench on `folder` in headless Chromium (fresh profile); `payload` pairs go to the workbench as is. */
export async function openWorkbench(server, folder, payload = [], { viewport = { width: 1400, height: 900 } } = {}) {
  const { chromium } = await import('playwright-core');
  const profile = mkdtempSync(path.join(tmpdir(), 'taia-chromium-'));
  const cleanup = () => removeTree(profile);
  pending.add(cleanup);
  let context;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport,
    });
  } catch (e) {
    cleanup();
    pending.delete(cleanup);
    throw e;
  }
  const page = context.pages()[0] ?? (await context.newPage());
  const query = new URLSearchParams({ folder });
  if (payload.length) query.set('payload', JSON.stringify(payload));
  let closed;
  return {
    page,
    goto: () => page.goto(`${server.url}/?${query}`),
    close() {
      closed ??= (async () => {
        await Promise.race([context.close().catch(() => {}), new Promise((r) => setTimeout(r, 10000))]);
        cleanup();
        pending.delete(cleanup);
      })();
      return closed;
    },
  };
}
