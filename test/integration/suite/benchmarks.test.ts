// Benchmark results from the real VS Code host: lm-evaluation-harness files written into the workspace
// appear in the Benchmarks view (a malformed one as an error item), and TAIA: Benchmark diff… opens the
// diff webview on the selected models, with the paired test their per-example records allow.
import * as assert from 'node:assert/strict';
import { cpSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { TaiaLabApi } from '../../../src/extension/extension';
import type { BenchmarkNode, BenchmarksTree } from '../../../src/extension/benchmarks/tree';
import type { BenchmarkDiffPanel } from '../../../src/extension/benchmarks/diffPanel';
import { eventually } from '../../helpers/eventually';

/** The Benchmarks tree on the API (`trees.benchmarks`). */
const benchmarksOf = (api: TaiaLabApi) =>
  (api.trees as TaiaLabApi['trees'] & { benchmarks: BenchmarksTree }).benchmarks;

const TS = '2026-01-01T00-00-00.000000';

/** An lm-eval output folder: results_<ts>.json and samples_arc_easy_<ts>.jsonl, `right` of 40 examples correct. */
function writeLmEval(dir: string, model: string, right: (i: number) => boolean): void {
  mkdirSync(dir, { recursive: true });
  const acc = Array.from({ length: 40 }, (_, i) => (right(i) ? 1 : 0));
  const mean = acc.reduce((a: number, b) => a + b, 0) / acc.length;
  const results = {
    results: {
      arc_easy: {
        alias: 'arc_easy',
        'acc,none': mean,
        'acc_stderr,none': 0.07,
        'acc_norm,none': mean,
        'acc_norm_stderr,none': 'N/A',
      },
    },
    groups: {},
    versions: { arc_easy: 1.0 },
    'n-shot': { arc_easy: 0 },
    higher_is_better: { arc_easy: { acc: true, acc_norm: true } },
    'n-samples': { arc_easy: { original: 40, effective: 40 } },
    config: { model: 'hf', model_args: `pretrained=${model}` },
    date: 1767225600,
  };
  writeFileSync(path.join(dir, `results_${TS}.json`), JSON.stringify(results, null, 2));
  writeFileSync(
    path.join(dir, `samples_arc_easy_${TS}.jsonl`),
    acc
      .map((a, i) =>
        JSON.stringify({
          doc_id: i,
          target: 'A',
          filtered_resps: [a ? 'A' : 'B'],
          filter: 'none',
          acc: a,
          acc_norm: a,
        }),
      )
      .join('\n') + '\n',
  );
}

suite('Benchmarks in the real host', () => {
  let root: string;
  let api: TaiaLabApi;

  suiteSetup(async () => {
    root = path.join(vscode.workspace.workspaceFolders![0].uri.fsPath, 'bench-results');
    api = await vscode.extensions.getExtension<TaiaLabApi>('taia-lab.taia-lab')!.activate();
  });

  suiteTeardown(() => rmSync(root, { recursive: true, force: true }));

  test('result files appear in the Benchmarks view; TAIA: Benchmark diff… renders the selected models', async function () {
    this.timeout(60000);
    const tree = benchmarksOf(api);
    assert.ok(tree, 'the API exposes trees.benchmarks');
    // base right on 0..19; the fine-tune also on 20..35 (McNemar: b = 0, c = 16 discordant pairs, exact).
    writeLmEval(path.join(root, 'lm', 'base'), '/models/qwen-base', (i) => i < 20);
    writeLmEval(path.join(root, 'lm', 'ft'), '/models/qwen-ft', (i) => i < 36);
    mkdirSync(path.join(root, 'broken'), { recursive: true });
    writeFileSync(path.join(root, 'broken', `results_${TS}.json`), '{"results": {"arc_easy": ');

    // Through the view's refresh, not the file watcher: in this sandbox code-server's recursive watcher
    // reports nothing inside freshly created folders (observed: only the top folder's creation), so a
    // watcher-driven check here would test the sandbox. The Checkpoints test covers the watcher path.
    await vscode.commands.executeCommand('taiaLab.refresh');
    const models = await eventually(() => {
      const found = tree
        .getChildren()
        .filter((n): n is Extract<BenchmarkNode, { type: 'model' }> => n.type === 'model' && n.file.startsWith(root));
      assert.deepEqual(found.map((n) => n.results.model).sort(), ['qwen-base', 'qwen-ft']);
      return found.sort((a, b) => a.results.model.localeCompare(b.results.model));
    }, 20000);
    const item = tree.getTreeItem(models[0]);
    assert.equal(item.label, 'qwen-base');
    assert.match(String(item.description), /^1 task · lm-evaluation-harness · results_/);
    assert.equal(item.contextValue, 'benchmark.model');
    // models → tasks → metrics
    const [task] = tree.getChildren(models[0]);
    assert.equal(tree.getTreeItem(task).label, 'arc_easy');
    const metrics = tree.getChildren(task).map((n) => tree.getTreeItem(n));
    assert.deepEqual(
      metrics.map((m) => [m.label, m.description]),
      [
        ['acc', '0.5000 ± 0.0700 ↑'],
        ['acc_norm', '0.5000 ↑'],
      ],
    );
    // The malformed file is an error item with its reason, and the rest of the view is unaffected.
    const error = await eventually(() => {
      const e = tree.getChildren().find((n) => n.type === 'error' && n.file.startsWith(root));
      assert.ok(e, 'the malformed file is listed');
      return e;
    }, 20000);
    const errorItem = tree.getTreeItem(error);
    assert.equal(errorItem.contextValue, 'benchmark.error');
    assert.match(String(errorItem.description), /invalid JSON/);

    // As from the view with both models selected (Ctrl/Cmd-click).
    const panel = await vscode.commands.executeCommand<BenchmarkDiffPanel>('taiaLab.benchmarkDiff', models[0], models);
    assert.ok(panel, 'the command returns the panel');
    assert.equal(await panel.rendered, 2, 'two task × metric rows drawn');
    const row = panel.report!.rows[0];
    assert.equal(panel.report!.baseline, 'qwen-base');
    assert.equal(row.cells[1].test?.method, 'mcnemar-exact', 'per-example records on both sides: a paired test');
    assert.deepEqual(row.cells[1].test?.discordant, { b: 0, c: 16 });
    // Two-sided exact binomial: 2 · (½)¹⁶.
    assert.equal(row.cells[1].test?.p, 2 / 65536);
    // Opening the same comparison again brings the same panel forward.
    const again = await vscode.commands.executeCommand<BenchmarkDiffPanel>('taiaLab.benchmarkDiff', {
      models: models.map((m) => ({ file: m.file, model: m.results.model })),
    });
    assert.equal(again, panel);
    panel.panel.dispose();

    // A file deleted from the workspace leaves the view.
    rmSync(path.join(root, 'lm', 'ft'), { recursive: true, force: true });
    await vscode.commands.executeCommand('taiaLab.refresh');
    await eventually(
      () => assert.ok(!tree.models.some((m) => m.results.model === 'qwen-ft' && m.file.startsWith(root))),
      20000,
    );
  });

  test("real files of other layouts are listed: lm-eval's ..__name folders, 0.3 names, OpenCompass .txt and .md", async function () {
    this.timeout(60000);
    const tree = benchmarksOf(api);
    const real = path.join(root, 'real');
    const fixtures = path.resolve(__dirname, '../../../../test/fixtures/results');
    cpSync(path.join(fixtures, 'lm-eval-0.4.3'), path.join(real, 'lm-eval-0.4.3'), { recursive: true });
    cpSync(path.join(fixtures, 'lm-eval-0.3', 'bloom-560m'), path.join(real, 'bloom-560m'), { recursive: true });
    cpSync(
      path.join(fixtures, 'opencompass-2024-01', 'summary_20240119_225509.txt'),
      path.join(real, 'oc', 'summary_20240119_225509.txt'),
    );
    cpSync(path.join(fixtures, 'opencompass-musr', 'summary_musr.md'), path.join(real, 'oc', 'summary_musr.md'));
    await vscode.commands.executeCommand('taiaLab.refresh');
    const found = await eventually(() => {
      const nodes = tree.models.filter((n) => n.file.startsWith(real));
      assert.equal(nodes.length, 3 + 1 + 1 + 10, nodes.map((n) => `${n.results.model} ${n.file}`).join('\n'));
      return nodes;
    }, 20000);
    const of = (name: string) => found.filter((n) => path.basename(n.file) === name);
    assert.equal(
      of('results_2024-08-21T04-37-55.218014.json')[0].results.model,
      'meta-llama/Meta-Llama-3-8B-Instruct+epoch_20',
      'the ..__ folder is not taken for a hidden one',
    );
    assert.equal(of('bloom-560m_lambada_openai_0-shot.json')[0].results.format, 'lm-eval');
    assert.equal(of('summary_20240119_225509.txt')[0].results.format, 'opencompass', 'not a TAIA log');
    assert.equal(of('summary_musr.md').length, 10);
    assert.ok(!tree.getChildren().some((n) => n.type === 'error' && n.file.startsWith(real)), 'no error items');
  });
});
