// Runs inside the real VS Code extension host (code-server). With the packaged .vsix (the normal run,
// see test/integration/runTest.ts) the extension under test is the one code-server installed.
import * as assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';

const ID = 'taia-lab.taia-lab';

function filesBelow(root: string, dir = ''): string[] {
  return readdirSync(path.join(root, dir), { withFileTypes: true }).flatMap((e) => {
    const rel = dir ? `${dir}/${e.name}` : e.name;
    return e.isDirectory() ? filesBelow(root, rel) : [rel];
  });
}

interface Manifest {
  main: string;
  activationEvents?: string[];
  contributes: { commands: { command: string }[] };
}

suite('TAIA Lab extension', () => {
  test('is present, loaded from the folder under test', () => {
    const ext = vscode.extensions.getExtension(ID);
    assert.ok(ext, `${ID} is installed`);
    const expected = process.env.TAIA_TEST_EXTENSION_PATH;
    assert.ok(expected, 'the launcher tells the host which folder the extension must load from');
    assert.equal(ext.extensionPath, expected);
  });

  test('the installed folder holds the package and nothing else', function () {
    if (process.env.TAIA_TEST_PACKAGED !== '1') this.skip();
    const ext = vscode.extensions.getExtension(ID)!;
    assert.ok(!ext.extensionPath.startsWith(path.resolve(__dirname, '../../../..')), 'not the source checkout');
    const files = filesBelow(ext.extensionPath);
    const manifest = ext.packageJSON as Manifest;
    for (const f of [
      'package.json',
      path.posix.normalize(manifest.main),
      'dist/merge-worker.js',
      'dist/webview/deltaReview.js',
      'dist/trainer.js',
      'dist/trainer-replica.js',
      'dist/wasm/tfjs-backend-wasm-simd.wasm',
      'dist/native/taia_native.node',
      'dist/webview/runDashboard.js',
      'dist/webview/compareRuns.js',
    ])
      assert.ok(files.includes(f), `${f} is packaged`);
    assert.ok(
      files.some((f) => /^readme\.md$/i.test(f)),
      'README is packaged',
    );
    assert.ok(
      files.some((f) => /^license(\.txt)?$/i.test(f)),
      'LICENSE is packaged',
    );
    assert.ok(
      files.some((f) => f.startsWith('media/')),
      'media/ is packaged',
    );
    const stray = files.filter((f) =>
      /^(src|test|out|bench|scripts|bin|node_modules|\.vscode-test|test-artifacts)\/|\.map$|\.tsx?$|^tsconfig|^esbuild\.mjs$|\.vsix$/.test(
        f,
      ),
    );
    assert.deepEqual(stray, [], 'no sources, tests, tools or source maps in the package');
    const bundle = readFileSync(path.join(ext.extensionPath, manifest.main), 'utf8');
    assert.ok(!bundle.includes('sourceMappingURL'), 'production bundle without a source map link');
  });

  test('activates and registers every contributed command', async () => {
    const ext = vscode.extensions.getExtension(ID)!;
    await ext.activate();
    assert.ok(ext.isActive);
    const manifest = ext.packageJSON as Manifest;
    const contributed = manifest.contributes.commands.map((c) => c.command);
    assert.ok(contributed.includes('taiaLab.mergeTaia'));
    const registered = new Set(await vscode.commands.getCommands(true));
    assert.deepEqual(
      contributed.filter((c) => !registered.has(c)),
      [],
      'contributed but not registered',
    );
    // Commands, views and webview serializers activate the extension (implicit events since VS Code 1.74);
    // an explicit onCommand event would only duplicate them.
    for (const e of manifest.activationEvents ?? [])
      assert.ok(!e.startsWith('onCommand:') || contributed.includes(e.slice(10)), e);
    assert.ok(existsSync(path.join(ext.extensionPath, manifest.main)));
  });
});
