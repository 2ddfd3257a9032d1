// Runs the extension test suites inside a real VS Code extension host (code-server, see
// scripts/vscode-host/), through @vscode/test-electron's standard runTests entry point, against the
// packaged .vsix: once in a trusted workspace, once in an untrusted one.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { runTests } from '@vscode/test-electron';

const repo = path.resolve(__dirname, '../../..');
const launcher = path.join(repo, 'scripts', 'vscode-host', 'code-server-launcher.mjs');
const vsix = process.env.TAIA_VSIX ?? path.join(repo, 'taia-lab.vsix');

async function runSuite(name: string, extraEnv: Record<string, string>): Promise<void> {
  const workspace = mkdtempSync(path.join(tmpdir(), `taia-ws-${name}-`));
  const started = Date.now();
  try {
    await runTests({
      vscodeExecutablePath: launcher,
      extensionDevelopmentPath: repo,
      extensionTestsPath: path.join(__dirname, name, 'index'),
      launchArgs: [workspace],
      extensionTestsEnv: { TAIA_VSIX: vsix, ...extraEnv },
    });
    console.log(`host suite '${name}' passed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  } finally {
    rmSync(workspace, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  await runSuite('suite', {});
  await runSuite('untrusted', { TAIA_HOST_UNTRUSTED: '1' });
}

main().catch((e: unknown) => {
  console.error(`host tests failed: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
