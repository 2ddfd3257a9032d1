#!/usr/bin/env node
// Stands in for a VS Code executable under @vscode/test-electron's runTests (vscodeExecutablePath):
// turns its `FOLDER --extensionDevelopmentPath=… --extensionTestsPath=…` arguments into a code-server
// run whose web workbench (headless Chromium) runs the suite inside the real Node extension host, and
// exits with the suite's exit code. runTests' other arguments (--disable-workspace-trust, --user-data-dir,
// …) are Electron ones and are ignored: code-server gets a fresh temporary profile per run.
//
// Environment (runTests' extensionTestsEnv reaches this script only, not the extension host):
//   TAIA_VSIX              install this .vsix and test the INSTALLED extension instead of the source folder
//   TAIA_HOST_UNTRUSTED=1  open the folder untrusted: workspace trust on, no prompt (see host.mjs)
//   TAIA_HOST_ENV          JSON object: extra environment for the extension host
//   TAIA_HOST_TIMEOUT_S    overall limit in seconds (default 300)
//   TAIA_HOST_VERBOSE=1    also show code-server's output, the page console and the workbench's own logs
// The extension host gets TAIA_TEST_EXTENSION_PATH (the folder the extension under test must load from)
// and, with a .vsix, TAIA_TEST_PACKAGED=1.
import { mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { format } from 'node:util';
import { startCodeServer, openWorkbench } from './host.mjs';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const argv = process.argv.slice(2);
const value = (name) => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const folder = argv.find((a) => !a.startsWith('-'));
const testsPath = value('extensionTestsPath');
const devPath = value('extensionDevelopmentPath');
if (!folder || !testsPath) {
  console.error('code-server-launcher: needs a folder argument and --extensionTestsPath=');
  process.exit(2);
}
const vsix = process.env.TAIA_VSIX;
const verbose = process.env.TAIA_HOST_VERBOSE === '1';
const limitS = Number(process.env.TAIA_HOST_TIMEOUT_S ?? 300);
const remote = (p) => `vscode-remote://remote${path.resolve(p)}`;

// The workbench's own chatter arrives on the suite's log channel; it is shown only when verbose.
// Lines that start with a bracketed tag ('[AgentHost:remote] …', '[Service Worker] …') or '%c' styling are
// the workbench's; suite output should not start with '[tag] '.
const WORKBENCH_NOISE =
  /^(%c|Canceled(: Canceled)*(\n|$)|Ignoring fetching additional builtin|\[[\w:. /-]+\] |Updating additional|Resolving connection|Resolved connection|Creating a socket)/;

let server;
let workbench;
let finishing;
function finish(code, why) {
  finishing ??= (async () => {
    clearTimeout(timer);
    if (why) console.error(`code-server-launcher: ${why}`);
    await workbench?.close().catch(() => {});
    await server?.stop().catch(() => {});
    process.exit(code);
  })();
  return finishing;
}
const timer = setTimeout(async () => {
  const shot = path.join(repo, 'test-artifacts', 'host-timeout.png');
  mkdirSync(path.dirname(shot), { recursive: true });
  const took = await workbench?.page.screenshot({ path: shot, timeout: 10000 }).then(
    () => true,
    () => false,
  );
  void finish(
    1,
    `the suite did not finish within ${limitS} s (TAIA_HOST_TIMEOUT_S)${took ? `; page screenshot: ${path.relative(repo, shot)}` : ''}`,
  );
}, limitS * 1000);
// runTests forwards Ctrl+C as SIGINT; CI cancels with SIGTERM: stop the server and browser either way.
for (const [sig, code] of [
  ['SIGINT', 130],
  ['SIGTERM', 143],
  ['SIGHUP', 129],
])
  process.on(sig, () => void finish(code, `${sig}: stopping`));

try {
  server = await startCodeServer({
    vsix,
    trusted: process.env.TAIA_HOST_UNTRUSTED !== '1',
    log: (l) => verbose && process.stderr.write(l),
  });
  // With a .vsix the extension under test is the INSTALLED one, loaded from --extensions-dir like any
  // user extension (extensionMode Production, the packaged files). The extension host runs
  // extensionTestsPath only in extension-development mode (both locations must be set), so the
  // development path is then an empty folder: development mode with no extension under development.
  // Without a .vsix, the source folder is the development extension, as in a desktop run.
  const expected = vsix ? server.installedExtension : devPath && path.resolve(devPath);
  const hostEnv = {
    ...JSON.parse(process.env.TAIA_HOST_ENV ?? '{}'),
    ...(expected ? { TAIA_TEST_EXTENSION_PATH: expected } : {}),
    ...(vsix ? { TAIA_TEST_PACKAGED: '1' } : {}),
  };
  const developmentPath = vsix || !devPath ? server.emptyFolder() : devPath;
  const payload = [
    ['extensionTestsPath', remote(testsPath)],
    ['skipWelcome', 'true'],
    ['extensionEnvironment', JSON.stringify(hostEnv)],
  ];
  if (developmentPath) payload.push(['extensionDevelopmentPath', remote(developmentPath)]);
  workbench = await openWorkbench(server, path.resolve(folder), payload);
  if (verbose) workbench.page.on('console', (m) => process.stderr.write(`[page ${m.type()}] ${m.text()}\n`));
  let resolveExit;
  const exited = new Promise((resolve) => (resolveExit = resolve));
  let suiteDone = false;
  await workbench.page.exposeFunction('codeAutomationExit', (c) => {
    suiteDone = true;
    resolveExit(Number(c));
  });
  await workbench.page.exposeFunction('codeAutomationLog', (type, args) => {
    // After the suite, only the workbench tearing down speaks ('Canceled' errors of pending requests).
    if (
      !verbose &&
      (suiteDone || (Array.isArray(args) && typeof args[0] === 'string' && WORKBENCH_NOISE.test(args[0])))
    )
      return;
    // The host forwards console arguments as they were given: format them as console.log would.
    const text = format(...(Array.isArray(args) ? args : [args]));
    (type === 'error' ? console.error : console.log)(text);
  });
  workbench.page.on('crash', () => void finish(1, 'the workbench page crashed'));
  await workbench.goto();
  await finish(await exited);
} catch (e) {
  await finish(1, e instanceof Error ? (e.stack ?? e.message) : String(e));
}
