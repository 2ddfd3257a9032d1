// The workspace `npm run demo` writes (here its --quick form, made by the runner before the host
// starts), opened in the real VS Code host as a newcomer opens it: every view lists what the demo
// made, and the benchmark diff of its five models renders.
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { BenchmarkDiffPanel } from '../../../src/extension/benchmarks/diffPanel';
import type { BenchmarkNode, BenchmarksTree } from '../../../src/extension/benchmarks/tree';
import type { TaiaLabApi } from '../../../src/extension/extension';
import { eventually } from '../../helpers/eventually';
import type { VariantOutcome } from '../../../src/core/study/run';
import type { StudyPanel } from '../../../src/extension/study/panel';

const MODELS = ['base', 'finetuned', 'taia', 'taia-strict', 'taif'];
/** The demo compares them as a study: each variant's results carry the study's name. */
const STUDY_MODELS = [...MODELS, 'revert-ffn-L0', 'revert-ffn-L1', 'revert-ffn-L2', 'revert-ffn-L3'].map(
  (m) => `word-games:${m}`,
);

suite('The demo workspace in the real host', () => {
  test('the views list its models, dataset, run and results; the benchmark diff of the five models renders', async function () {
    this.timeout(90000);
    const ws = vscode.workspace.workspaceFolders![0].uri.fsPath;
    const api = await vscode.extensions.getExtension<TaiaLabApi>('taia-lab.taia-lab')!.activate();
    await api.index.ready();
    const relative = (p: string) => path.relative(ws, p);

    const checkpoints = api.index.checkpointList.filter((c) => relative(c.dir).startsWith('models'));
    assert.deepEqual(
      checkpoints.map((c) => relative(c.dir)).sort(),
      ['base', 'finetuned', 'taia'].map((m) => path.join('models', m)).sort(),
    );
    for (const c of checkpoints) assert.ok(c.summary && !c.error, `${c.dir}: ${c.error}`);
    assert.ok(
      api.index.datasetList.some((d) => relative(d.file) === path.join('data', 'word-games.jsonl')),
      'the fine-tuning data is a dataset',
    );

    const run = await eventually(() => {
      const done = api.trees.runs.current.find((r) => r.status.state === 'done');
      assert.ok(
        done,
        `a finished run; runs: ${api.trees.runs.current.map((r) => `${r.status.name} ${r.status.state}`).join(', ')}`,
      );
      return done;
    }, 20000);
    assert.ok(run.status.lastCheckpoint, 'the run names its checkpoint');

    const tree = (api.trees as TaiaLabApi['trees'] & { benchmarks: BenchmarksTree }).benchmarks;
    const models = await eventually(() => {
      const found = tree
        .getChildren()
        .filter((n): n is Extract<BenchmarkNode, { type: 'model' }> => n.type === 'model');
      assert.deepEqual(found.map((n) => n.results.model).sort(), [...STUDY_MODELS].sort());
      return MODELS.map((m) => found.find((n) => n.results.model === `word-games:${m}`)!);
    }, 20000);
    const panel = await vscode.commands.executeCommand<BenchmarkDiffPanel>('taiaLab.benchmarkDiff', {
      models: models.map((m) => ({ file: m.file, model: m.results.model })),
    });
    const rows = await panel.rendered;
    assert.equal(panel.report!.baseline, 'word-games:base');
    assert.equal(rows, panel.report!.rows.length);
    assert.deepEqual([...new Set(panel.report!.rows.map((r) => r.task))].sort(), [
      'capitals',
      'capitals_mc',
      'knowledge',
      'sums',
    ]);
    // Every model has a number for every row: the demo evaluated them all on the same tasks.
    for (const r of panel.report!.rows)
      assert.ok(
        r.cells.every((c) => Number.isFinite(c.value)),
        `${r.task} / ${r.metric}`,
      );
    panel.panel.dispose();
  });

  test('Run study… on the demo study file: every variant cached by the demo run, the study page renders its table and scan', async function () {
    this.timeout(90000);
    const ws = vscode.workspace.workspaceFolders![0].uri.fsPath;
    const result = await vscode.commands.executeCommand<{ outcomes: VariantOutcome[]; panel?: StudyPanel }>(
      'taiaLab.runStudy',
      { file: path.join(ws, 'word-games.taia-study.yaml') },
    );
    assert.ok(result, 'the study ran');
    assert.deepEqual(
      result.outcomes.map((o) => `${o.name} ${o.state}`),
      [...MODELS, 'revert-ffn-L0', 'revert-ffn-L1', 'revert-ffn-L2', 'revert-ffn-L3'].map((m) => `${m} cached`),
    );
    assert.equal(await result.panel!.rendered, 9);
    result.panel!.panel.dispose();
  });
});
