// Experiment files in the real VS Code host: the language is registered, and the language server (its
// own process, started by the extension's client) publishes diagnostics, quick fixes and code lenses.
import * as assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { TaiaLabApi } from '../../../src/extension/extension';
import { writeAlpacaDataset, writeExperiment, writeTinyModel } from '../../helpers/training';

/** Polls until `get` returns a value (the server starts, debounces and reads the disk), or fails after `ms`. */
async function poll<T>(get: () => T | undefined | Promise<T | undefined>, what: string, ms = 20000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const value = await get();
    if (value !== undefined) return value;
    if (Date.now() > end) assert.fail(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

suite('Experiment files in the real host', () => {
  test('an unknown key is diagnosed on the key, with a quick fix, and the Train lens gets the file', async function () {
    this.timeout(60000);
    const dir = path.join(vscode.workspace.workspaceFolders![0].uri.fsPath, 'experiment-lsp');
    writeTinyModel(path.join(dir, 'model'));
    writeAlpacaDataset(path.join(dir, 'data', 'train.jsonl'), 20);
    const file = path.join(dir, 'typo.taia.yaml');
    writeFileSync(file, 'base: model\ndataset: data/train.jsonl\nengin: tfjs\n');
    const uri = vscode.Uri.file(file);
    const doc = await vscode.workspace.openTextDocument(uri);
    await vscode.window.showTextDocument(doc);
    assert.equal(doc.languageId, 'taia-experiment');

    const message = "unknown key 'engin'; did you mean 'engine'?";
    const diagnostic = await poll(
      () => vscode.languages.getDiagnostics(uri).find((d) => d.message === message),
      `the diagnostic "${message}"`,
    );
    assert.ok(diagnostic.range.isEqual(new vscode.Range(2, 0, 2, 5)), `range ${JSON.stringify(diagnostic.range)}`);
    assert.equal(diagnostic.severity, vscode.DiagnosticSeverity.Error);
    assert.equal(
      vscode.languages.getDiagnostics(uri).length,
      1,
      'the model and dataset are found: no other diagnostic',
    );

    const actions = await vscode.commands.executeCommand<vscode.CodeAction[]>(
      'vscode.executeCodeActionProvider',
      uri,
      diagnostic.range,
    );
    const fix = actions.find((a) => a.title === "Change to 'engine'");
    assert.ok(fix?.edit, `quick fixes: ${actions.map((a) => a.title).join(', ')}`);
    assert.deepEqual(
      fix.edit.get(uri).map((e) => e.newText),
      ['engine'],
    );

    const lenses = await poll(async () => {
      const got = await vscode.commands.executeCommand<vscode.CodeLens[]>('vscode.executeCodeLensProvider', uri);
      return got.length >= 3 ? got : undefined;
    }, 'code lenses');
    assert.deepEqual(
      lenses.map((l) => l.command?.title),
      ['Train', 'Merge', 'Evaluate'],
    );
    const trainArg = lenses[0].command!.arguments![0];
    // The server sends a string; the client's middleware makes it the vscode.Uri the command takes.
    assert.equal((trainArg as vscode.Uri).fsPath, file, 'Train runs taiaLab.startTraining on the file URI');
  });
});

suite('Merge and Evaluate lenses in the real host', () => {
  test("they work on the experiment's newest run: a merge under merged/, then its evaluation on eval.tasks", async function () {
    this.timeout(90000);
    const root = vscode.workspace.workspaceFolders![0].uri.fsPath;
    const dir = path.join(root, 'experiment-lens');
    writeTinyModel(path.join(dir, 'model'));
    writeAlpacaDataset(path.join(dir, 'data', 'train.jsonl'), 20);
    mkdirSync(path.join(dir, 'tasks'), { recursive: true });
    writeFileSync(
      path.join(dir, 'tasks', 'qa.jsonl'),
      '{"prompt": "add 1 and 2", "answer": "3"}\n{"prompt": "add 2 and 2", "answer": "4"}\n',
    );
    const file = path.join(dir, 'lens.taia.yaml');
    writeExperiment(file, { train: { max_steps: 2 }, eval: { tasks: ['tasks/qa.jsonl'] } });
    const api = await vscode.extensions.getExtension<TaiaLabApi>('taia-lab.taia-lab')!.activate();
    const lensArg = { experiment: file };
    let runDir: string | undefined;
    let results: string | undefined;
    try {
      // Nothing trained yet: the lens says so and does nothing.
      assert.equal(
        await vscode.commands.executeCommand('taiaLab.mergeTaia', { ...lensArg, confirm: false }),
        undefined,
      );
      runDir = await vscode.commands.executeCommand<string>('taiaLab.startTraining', lensArg);
      await poll(
        () => (api.trees.runs.current.find((r) => r.dir === runDir)?.status.state === 'done' ? true : undefined),
        'the run to finish',
        60000,
      );

      const merged = await vscode.commands.executeCommand<string>('taiaLab.mergeTaia', { ...lensArg, confirm: false });
      assert.equal(merged, path.join(root, 'merged', `${path.basename(runDir)}-taia`));
      assert.equal(JSON.parse(readFileSync(path.join(merged, 'taia_merge.json'), 'utf-8')).recipe.name, 'taia');

      results = await vscode.commands.executeCommand<string>('taiaLab.evaluate', { ...lensArg, checkpoint: merged });
      assert.ok(results, 'the evaluation writes a result file');
      const written = JSON.parse(readFileSync(results, 'utf-8'));
      assert.deepEqual(Object.keys(written.tasks), ['qa'], "the experiment's eval.tasks");
      assert.equal(written.tasks.qa.n, 2);
      assert.match(written.tool, /\(tfjs /, "the experiment's engine");
    } finally {
      for (const p of [
        dir,
        path.join(root, 'merged'),
        runDir,
        results,
        results?.replace('.taia-results.json', '.samples.jsonl'),
      ])
        if (p) rmSync(p, { recursive: true, force: true });
    }
  });
});

suite('Study files in the real host', () => {
  test('the language server checks a study file, and its Run study lens runs the study and opens the page', async function () {
    this.timeout(90000);
    const dir = path.join(vscode.workspace.workspaceFolders![0].uri.fsPath, 'study-lsp');
    writeTinyModel(path.join(dir, 'base'));
    writeTinyModel(path.join(dir, 'ft'), undefined, 2);
    writeFileSync(path.join(dir, 'mc.jsonl'), '{"prompt": "hot or cold?", "choices": ["hot", "cold"], "answer": 0}\n');
    const file = path.join(dir, 'typo.taia-study.yaml');
    writeFileSync(
      file,
      'base: base\nfinetuned: ft\neval: { tasks: [mc.jsonl] }\nvariants: [base, full, taia]\nengin: tfjs\n',
    );
    const uri = vscode.Uri.file(file);
    const doc = await vscode.workspace.openTextDocument(uri);
    await vscode.window.showTextDocument(doc);
    assert.equal(doc.languageId, 'taia-study');
    const message = "unknown key 'engin'; did you mean 'engine'?";
    const diagnostic = await poll(
      () => vscode.languages.getDiagnostics(uri).find((d) => d.message === message),
      `the diagnostic "${message}"`,
    );
    assert.ok(diagnostic.range.isEqual(new vscode.Range(4, 0, 4, 5)), `range ${JSON.stringify(diagnostic.range)}`);
    assert.equal(
      vscode.languages.getDiagnostics(uri).length,
      1,
      'base, fine-tune and task file are found: no other diagnostic',
    );

    writeFileSync(file, 'base: base\nfinetuned: ft\neval: { tasks: [mc.jsonl] }\nvariants: [base, full, taia]\n');
    const lens = await poll(
      async () =>
        (await vscode.commands.executeCommand<vscode.CodeLens[]>('vscode.executeCodeLensProvider', uri)).find(
          (l) => l.command?.title === 'Run study',
        ),
      'the Run study lens',
    );
    const result = await vscode.commands.executeCommand<{
      outcomes: { name: string; state: string }[];
      panel?: { rendered: Promise<number>; panel: vscode.WebviewPanel };
    }>(lens.command!.command, ...lens.command!.arguments!);
    assert.deepEqual(
      result.outcomes.map((o) => `${o.name} ${o.state}`),
      ['base evaluated', 'full evaluated', 'taia evaluated'],
    );
    assert.equal(await result.panel!.rendered, 3);
    const results = JSON.parse(
      readFileSync(path.join(dir, '.taia', 'results', 'studies', 'typo', 'taia.taia-results.json'), 'utf-8'),
    );
    assert.equal(results.model.name, 'typo:taia');
    result.panel!.panel.dispose();
    rmSync(dir, { recursive: true, force: true });
  });
});
