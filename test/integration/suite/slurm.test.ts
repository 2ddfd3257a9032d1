// A run and a study with `launcher: slurm` from the real VS Code host, on the real Slurm cluster that runTest.ts
// starts for this suite (SLURM_CONF reaches the extension host through TAIA_HOST_ENV).
import * as assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { TaiaLabApi } from '../../../src/extension/extension';
import type { RunState } from '../../../src/core/runs/types';
import { writeAlpacaDataset, writeExperiment, writeStudyWorld, writeTinyModel } from '../../helpers/training';

suite('Slurm runs in the real host', () => {
  test('Start fine-tuning submits a launcher: slurm run; the Runs view shows its job and follows it to done', async function () {
    if (!process.env.SLURM_CONF) return this.skip(); // runTest.ts says why it started no cluster
    this.timeout(150000);
    const root = vscode.workspace.workspaceFolders![0].uri.fsPath;
    const ws = path.join(root, 'slurm');
    writeTinyModel(path.join(ws, 'model'));
    writeAlpacaDataset(path.join(ws, 'data/train.jsonl'), 40);
    // No partition in the file: the setting fills it in.
    writeExperiment(path.join(ws, 'cluster.taia.yaml'), {
      launcher: 'slurm',
      slurm: { time: '10' },
      workers: 1,
      train: { max_steps: 30, save_steps: 10 },
    });
    const slurm = vscode.workspace.getConfiguration('taiaLab.slurm');
    await slurm.update('partition', 'debug', vscode.ConfigurationTarget.Workspace);
    await slurm.update('pollSeconds', 1, vscode.ConfigurationTarget.Workspace);
    const api = await vscode.extensions.getExtension<TaiaLabApi>('taia-lab.taia-lab')!.activate();
    const seen: RunState[] = [];
    const listener = api.trees.runs.onDidUpdate((runs) => {
      const state = runs.find((r) => r.status.name === 'cluster')?.status.state;
      if (state && seen.at(-1) !== state) seen.push(state);
    });
    try {
      const runDir = await vscode.commands.executeCommand<string>('taiaLab.startTraining', {
        experiment: path.join(ws, 'cluster.taia.yaml'),
      });
      assert.ok(runDir && existsSync(path.join(runDir, 'job.sbatch')), 'the job script is in the run folder');
      const end = Date.now() + 140000;
      const current = () => api.trees.runs.current.find((r) => r.dir === runDir);
      while (
        !(current()?.status.state === 'done' && current()?.status.slurm?.jobState === 'COMPLETED') &&
        current()?.status.state !== 'failed' &&
        Date.now() < end
      )
        await new Promise((r) => setTimeout(r, 250));
      const node = current()!;
      assert.equal(node.status.state, 'done', `states seen: ${seen.join(' → ')}; ${JSON.stringify(node.status)}`);
      assert.equal(node.status.slurm?.jobState, 'COMPLETED');
      assert.equal(node.status.slurm?.partition, 'debug');
      assert.match(
        String(api.trees.runs.getTreeItem(node).description),
        // The start time first (two runs of one experiment read alike without it).
        new RegExp(
          `^[A-Z][a-z]{2} \\d{2} \\d{2}:\\d{2} · done · 30/30 · loss [\\d.]+ · job ${node.status.slurm!.jobId} on debug$`,
        ),
      );
      assert.ok(existsSync(path.join(runDir, 'checkpoints', 'checkpoint-30', 'model.safetensors')));
      const dashboard = await vscode.commands.executeCommand<{ rendered: Promise<number> }>(
        'taiaLab.openRunDashboard',
        node,
      );
      assert.equal(await dashboard.rendered, 30);
    } finally {
      listener.dispose();
      await slurm.update('partition', undefined, vscode.ConfigurationTarget.Workspace);
      await slurm.update('pollSeconds', undefined, vscode.ConfigurationTarget.Workspace);
    }
  });

  test('Run study with launcher: slurm evaluates each variant as a job on the partition the setting names', async function () {
    if (!process.env.SLURM_CONF) return this.skip();
    this.timeout(150000);
    const dir = path.join(vscode.workspace.workspaceFolders![0].uri.fsPath, 'slurm-study');
    writeStudyWorld(dir);
    const file = path.join(dir, 'cluster.taia-study.yaml');
    writeFileSync(
      file,
      'base: base\nfinetuned: ft\nlauncher: slurm\neval: { tasks: [mc.jsonl], max_new_tokens: 4 }\nvariants: [base, taia]\n',
    );
    const slurm = vscode.workspace.getConfiguration('taiaLab.slurm');
    await slurm.update('partition', 'debug', vscode.ConfigurationTarget.Workspace);
    await slurm.update('pollSeconds', 1, vscode.ConfigurationTarget.Workspace);
    try {
      const result = await vscode.commands.executeCommand<{
        outcomes: { name: string; state: string }[];
        panel?: { rendered: Promise<number>; panel: vscode.WebviewPanel };
      }>('taiaLab.runStudy', { file });
      assert.deepEqual(
        result.outcomes.map((o) => `${o.name} ${o.state}`),
        ['base evaluated', 'taia evaluated'],
      );
      for (const variant of ['base', 'taia']) {
        const script = readFileSync(
          path.join(dir, '.taia/results/studies/cluster', `${variant}.slurm`, 'job.sbatch'),
          'utf-8',
        );
        assert.match(script, /^#SBATCH --partition=debug$/m, `${variant}'s job is on the setting's partition`);
      }
      assert.equal(await result.panel!.rendered, 2);
      result.panel!.panel.dispose();
    } finally {
      await slurm.update('partition', undefined, vscode.ConfigurationTarget.Workspace);
      await slurm.update('pollSeconds', undefined, vscode.ConfigurationTarget.Workspace);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
