// Runs the extension test suites inside a real VS Code extension host through @vscode/test-electron's
// standard runTests entry point. No desktop VS Code can be downloaded here, so vscodeExecutablePath is
// scripts/vscode-host/code-server-launcher.mjs, which runs the suite in code-server (VS Code's server and
// web workbench) driven by headless Chromium; see that script and shared/vscode-host.md.
//
// The suites run against the packaged extension: TAIA_VSIX (default: taia-lab.vsix at the repository
// root, made by `npm run package`) is installed into code-server and tested as installed. TAIA_VSIX=''
// tests the source folder as a development extension instead (needs a build in dist/).
// Three suites: suite/ in a trusted workspace, untrusted/ with workspace trust on and the folder untrusted,
// demo/ in the workspace `npm run demo -- --quick` writes.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { runTests } from '@vscode/test-electron';
import { slurmUnavailable, startSlurm } from '../helpers/slurm';

const repo = path.resolve(__dirname, '../../..');
const launcher = path.join(repo, 'scripts', 'vscode-host', 'code-server-launcher.mjs');
const vsix = process.env.TAIA_VSIX ?? path.join(repo, 'taia-lab.vsix');

/** Runs suite `name` in a fresh workspace folder, which `prepare` may fill first. */
async function runSuite(
  name: string,
  extraEnv: Record<string, string>,
  prepare?: (workspace: string) => void,
): Promise<void> {
  const workspace = mkdtempSync(path.join(tmpdir(), `taia-ws-${name}-`));
  const started = Date.now();
  try {
    prepare?.(workspace);
    await runTests({
      vscodeExecutablePath: launcher,
      // Used only when TAIA_VSIX is '' (the launcher tests the installed .vsix otherwise).
      extensionDevelopmentPath: repo,
      extensionTestsPath: path.join(__dirname, name, 'index'),
      launchArgs: [workspace],
      // runTests' extensionTestsEnv reaches the launcher, not the extension host (see the launcher).
      extensionTestsEnv: { TAIA_VSIX: vsix, ...extraEnv },
      reuseMachineInstall: true,
    });
    console.log(`host suite '${name}' passed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  } finally {
    rmSync(workspace, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  if (vsix && !existsSync(vsix)) throw new Error(`${vsix} not found: run \`npm run package\` first (or set TAIA_VSIX)`);
  // The trusted suite's Slurm test needs a real cluster: started here, stopped by pid when the suite ends.
  const noSlurm = slurmUnavailable();
  const cluster = noSlurm ? undefined : startSlurm();
  if (noSlurm) console.log(`host suite 'suite': no Slurm cluster, its Slurm test skips: ${noSlurm}`);
  try {
    await runSuite('suite', cluster ? { TAIA_HOST_ENV: JSON.stringify(cluster.env) } : {});
  } finally {
    cluster?.stop();
  }
  await runSuite('untrusted', { TAIA_HOST_UNTRUSTED: '1' });
  await runSuite('demo', {}, (workspace) => {
    const demo = spawnSync(process.execPath, [path.join(repo, 'demo', 'run.mjs'), '--quick', '--dir', workspace], {
      encoding: 'utf-8',
    });
    if (demo.status !== 0) throw new Error(`npm run demo -- --quick failed:\n${demo.stderr.slice(-2000)}`);
  });
}

main().catch((e: unknown) => {
  console.error(`host tests failed: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
