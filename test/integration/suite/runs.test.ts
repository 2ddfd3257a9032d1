// Fine-tuning from the real VS Code host: the command starts a trainer child process and the Runs view
// follows the run from running to done.
import * as assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { TaiaLabApi } from '../../../src/extension/extension';
import type { RunState } from '../../../src/core/runs/types';
import { eventually } from '../../helpers/eventually';
import { writeAlpacaDataset, writeExperiment, writeTinyModel } from '../../helpers/training';

suite('Fine-tuning runs in the real host', () => {
  test('Start fine-tuning runs a trainer process and the Runs view shows it running, then done', async function () {
    this.timeout(90000);
    const root = vscode.workspace.workspaceFolders![0].uri.fsPath;
    const ws = path.join(root, 'training');
    writeTinyModel(path.join(ws, 'model'));
    writeAlpacaDataset(path.join(ws, 'data/train.jsonl'), 40);
    writeExperiment(path.join(ws, 'tiny.taia.yaml'), { train: { max_steps: 150, save_steps: 50 } });
    const api = await vscode.extensions.getExtension<TaiaLabApi>('taia-lab.taia-lab')!.activate();

    const seen: RunState[] = [];
    const listener = api.trees.runs.onDidUpdate((runs) => {
      const state = runs.find((r) => r.status.name === 'tiny')?.status.state;
      if (state && seen.at(-1) !== state) seen.push(state);
    });
    try {
      const runDir = await vscode.commands.executeCommand<string>('taiaLab.startTraining', {
        experiment: path.join(ws, 'tiny.taia.yaml'),
      });
      assert.ok(runDir && existsSync(runDir), 'the command returns the new run folder');
      const end = Date.now() + 80000;
      while (seen.at(-1) !== 'done' && seen.at(-1) !== 'failed' && Date.now() < end)
        await new Promise((r) => setTimeout(r, 200));
      assert.ok(seen.includes('running'), `states seen: ${seen.join(' → ')}`);
      assert.equal(seen.at(-1), 'done', `states seen: ${seen.join(' → ')}`);
      const node = api.trees.runs.current.find((r) => r.dir === runDir)!;
      const item = api.trees.runs.getTreeItem(node);
      assert.match(
        String(item.description),
        /^[A-Z][a-z]{2} \d{2} \d{2}:\d{2} · done · 150\/150 · loss \d/,
        'the start time tells runs apart',
      );
      assert.equal(item.contextValue, 'run.done');
      // The packaged trainer found its WebAssembly files (a missing .wasm would fall back to the slow cpu backend).
      assert.match(node.status.backend ?? '', /^tfjs wasm/);
      assert.ok(existsSync(path.join(runDir, 'checkpoints', 'checkpoint-150', 'model.safetensors')));
      // The dashboard opens in the real host and draws every logged step.
      const dashboard = await vscode.commands.executeCommand<{ rendered: Promise<number> }>(
        'taiaLab.openRunDashboard',
        node,
      );
      assert.equal(await dashboard.rendered, 150);
      // A second, shorter run of the same experiment, then both compared side by side.
      const second = await vscode.commands.executeCommand<string>('taiaLab.startTraining', {
        experiment: path.join(ws, 'tiny.taia.yaml'),
      });
      const end2 = Date.now() + 60000;
      while (api.trees.runs.current.find((r) => r.dir === second)?.status.state !== 'done' && Date.now() < end2)
        await new Promise((r) => setTimeout(r, 200));
      const nodes = api.trees.runs.current.filter((r) => r.dir === runDir || r.dir === second);
      const comparison = await vscode.commands.executeCommand<{ rendered: Promise<number> }>(
        'taiaLab.compareRuns',
        nodes[0],
        nodes,
      );
      assert.equal(await comparison.rendered, 2);
      // The experiments table lists both runs in the real host (its bundle and styles load under the webview CSP).
      const experiments = await vscode.commands.executeCommand<{ rendered: Promise<number> }>('taiaLab.experiments');
      assert.equal(await experiments.rendered, api.trees.runs.current.length);
      assert.ok(api.trees.runs.current.length >= 2);
      // The built-in evaluator runs on the run's checkpoint and writes a result file under .taia/results/.
      const tasks = path.join(ws, 'sums.jsonl');
      writeFileSync(tasks, '{"prompt": "add 1 and 3", "answer": "4"}\n{"prompt": "add 2 and 2", "answer": "4"}\n');
      const checkpoint = path.join(runDir, 'checkpoints', 'checkpoint-150');
      const results = await vscode.commands.executeCommand<string>('taiaLab.evaluate', {
        checkpoint,
        tasks: [tasks],
        external: false,
        maxNewTokens: 4,
      });
      assert.ok(results && existsSync(results), `result file ${results}`);
      assert.equal(JSON.parse(readFileSync(results, 'utf-8')).tasks.sums.n, 2);
      // A second evaluation of the same checkpoint on another task keeps the first (issue 18), and the
      // Benchmarks view shows both without a refresh.
      const capitals = path.join(ws, 'capitals.jsonl');
      writeFileSync(capitals, '{"prompt": "capital of Oro?", "answer": "Vell"}\n');
      const again = await vscode.commands.executeCommand<string>('taiaLab.evaluate', {
        checkpoint,
        tasks: [capitals],
        external: false,
        maxNewTokens: 4,
      });
      assert.equal(again, results, 'one result file per checkpoint');
      const kept = JSON.parse(readFileSync(results, 'utf-8'));
      assert.deepEqual(Object.keys(kept.tasks).sort(), ['capitals', 'sums']);
      assert.equal(kept.tasks.sums.n, 2);
      assert.equal(
        readFileSync(results.replace('.taia-results.json', '.samples.jsonl'), 'utf-8').trim().split('\n').length,
        3,
        'the per-example records of both evaluations',
      );
      await eventually(() => {
        const model = api.trees.benchmarks.models.find((m) => m.file === results);
        assert.deepEqual([...(model?.results.tasks.keys() ?? [])].sort(), ['capitals', 'sums']);
      }, 20000);
      // The external command of the setting, with its placeholders substituted.
      await vscode.workspace
        .getConfiguration('taiaLab.evaluation')
        .update(
          'command',
          `node -e "require('fs').writeFileSync(process.argv[1] + '/from-command.txt', process.argv[2])" \${output} \${checkpoint}`,
          vscode.ConfigurationTarget.Workspace,
        );
      const outDir = await vscode.commands.executeCommand<string>('taiaLab.evaluate', { checkpoint, external: true });
      assert.equal(readFileSync(path.join(outDir, 'from-command.txt'), 'utf-8'), checkpoint);
      // The run's checkpoints are ordinary checkpoints of the workspace.
      await api.index.refresh();
      assert.ok(api.index.checkpointList.some((c) => c.dir === path.join(runDir, 'checkpoints', 'checkpoint-150')));
    } finally {
      listener.dispose();
    }
  });
});
