#!/usr/bin/env node
// Stands in for a VS Code executable under @vscode/test-electron's runTests: turns its
// --extensionDevelopmentPath= / --extensionTestsPath= arguments into a code-server run whose web
// workbench runs the suite inside the real extension host, and exits with the suite's exit code.
//
// Environment (runTests' extensionTestsEnv reaches this script only):
//   TAIA_VSIX              install this .vsix and test the installed extension instead of the source folder
//   TAIA_HOST_UNTRUSTED=1  open the folder untrusted (workspace trust on, no prompt)
//   TAIA_HOST_ENV          JSON object: environment for the extension host
//   TAIA_HOST_TIMEOUT_S    overall limit (default 300)
import { format } from 'node:util';
import { startCodeServer, openWorkbench } from './host.mjs';

const argv = process.argv.slice(2);
const value = (name) => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const folder = argv.find((a) => !a.startsWith('--'));
const testsPath = value('extensionTestsPath');
const devPath = value('extensionDevelopmentPath');
if (!folder || !testsPath) {
  console.error('code-server-launcher: needs a folder argument and --extensionTestsPath=');
  process.exit(2);
}
const vsix = process.env.TAIA_VSIX;
const remote = (p) => `vscode-remote://remote${p}`;
const payload = [['extensionTestsPath', remote(testsPath)], ['skipWelcome', 'true']];
if (process.env.TAIA_HOST_ENV) payload.push(['extensionEnvironment', process.env.TAIA_HOST_ENV]);

const WORKBENCH_NOISE = /^(%c|\[|Updating additional|Resolving connection|Resolved connection|Creating a socket)/;
const limit = Number(process.env.TAIA_HOST_TIMEOUT_S ?? 300) * 1000;
const verbose = process.env.TAIA_HOST_VERBOSE === '1';
let server;
let workbench;
let code = 1;
const timer = setTimeout(async () => {
  console.error(`code-server-launcher: the suite did not finish within ${limit / 1000} s (page screenshot: test-artifacts/host-timeout.png)`);
  await workbench?.page.screenshot({ path: 'test-artifacts/host-timeout.png' }).catch(() => {});
  void finish(1);
}, limit);

async function finish(exitCode) {
  clearTimeout(timer);
  await workbench?.close().catch(() => {});
  await server?.stop().catch(() => {});
  process.exit(exitCode);
}

try {
  server = await startCodeServer({ vsix, trusted: process.env.TAIA_HOST_UNTRUSTED !== '1', log: (l) => verbose && process.stderr.write(l) });
  // The workbench runs extension tests only in extension-development mode; with a .vsix, the folder
  // the package was installed into is the development path, so the packaged files are what is tested.
  const extensionPath = vsix ? server.installedExtension : devPath;
  if (extensionPath) payload.push(['extensionDevelopmentPath', remote(extensionPath)]);
  workbench = await openWorkbench(server, folder, payload);
  if (verbose) workbench.page.on('console', (m) => process.stderr.write(`[page ${m.type()}] ${m.text()}\n`));
  let resolveExit;
  const exited = new Promise((resolve) => (resolveExit = resolve));
  await workbench.page.exposeFunction('codeAutomationExit', (c) => resolveExit(Number(c)));
  await workbench.page.exposeFunction('codeAutomationLog', (type, args) => {
    // The workbench's own logs ('[AgentHost] ...', '%c INFO ...', connection chatter) arrive on the same
    // channel as the suite's output; show them only when asked.
    if (!verbose && Array.isArray(args) && typeof args[0] === 'string' && WORKBENCH_NOISE.test(args[0])) return;
    // The host forwards console arguments as they were given: format them as console.log would.
    const text = format(...(Array.isArray(args) ? args : [args]));
    (type === 'error' ? console.error : console.log)(text);
  });
  await workbench.goto();
  code = await exited;
} catch (e) {
  console.error(`code-server-launcher: ${e instanceof Error ? e.stack : e}`);
  code = 1;
}
await finish(code);
