// Runs inside the real VS Code host with workspace trust enabled and the folder NOT trusted.
import * as assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { writeLlama } from '../../helpers/models';
import type { TaiaLabApi } from '../../../src/extension/extension';

suite('TAIA Lab in an untrusted workspace', () => {
  test('views work, but merging is refused and writes nothing', async function () {
    this.timeout(30000);
    assert.equal(vscode.workspace.isTrusted, false, 'the host must open this folder untrusted');
    const root = vscode.workspace.workspaceFolders![0].uri.fsPath;
    const shape = { layers: 1, hidden: 8, intermediate: 8, vocab: 8, heads: 2 };
    writeLlama(path.join(root, 'u-base'), shape, { seed: 1 });
    writeLlama(path.join(root, 'u-ft'), shape, { seed: 2 });
    const ext = vscode.extensions.getExtension<TaiaLabApi>('taia-lab.taia-lab')!;
    const api = await ext.activate();
    await api.index.refresh();
    assert.ok(
      api.index.checkpointList.some((c) => c.dir.endsWith('u-base')),
      'the Checkpoints view still lists what the workspace holds',
    );
    const out = path.join(root, 'u-out');
    const result = await vscode.commands.executeCommand('taiaLab.mergeTaia', {
      base: path.join(root, 'u-base'),
      finetuned: path.join(root, 'u-ft'),
      out,
      confirm: false,
    });
    assert.equal(result, undefined);
    assert.ok(!existsSync(out), 'nothing written');
  });

  test('fine-tuning and evaluation are refused: no run folder, no process', async () => {
    const root = vscode.workspace.workspaceFolders![0].uri.fsPath;
    const experiment = path.join(root, 'u.taia.yaml');
    writeFileSync(experiment, 'base: u-base\ndataset: d.jsonl\n');
    writeFileSync(path.join(root, 'd.jsonl'), '{"text": "x"}\n');
    assert.equal(await vscode.commands.executeCommand('taiaLab.startTraining', { experiment }), undefined);
    assert.ok(!existsSync(path.join(root, '.taia', 'runs')), 'no run was created');
    // A workspace's own training command is the clearest case: it would run whatever the file says.
    const command = path.join(root, 'c.taia.yaml');
    writeFileSync(command, `engine: command\ncommand: [touch, ${JSON.stringify(path.join(root, 'ran'))}]\n`);
    assert.equal(await vscode.commands.executeCommand('taiaLab.startTraining', { experiment: command }), undefined);
    assert.ok(
      !existsSync(path.join(root, 'ran')) && !existsSync(path.join(root, '.taia', 'runs')),
      'the command did not run',
    );
    assert.equal(
      await vscode.commands.executeCommand('taiaLab.evaluate', {
        checkpoint: path.join(root, 'u-base'),
        tasks: [path.join(root, 'd.jsonl')],
        external: true,
      }),
      undefined,
    );
    assert.ok(!existsSync(path.join(root, '.taia', 'results')), 'no evaluation ran');
    const study = path.join(root, 'u.taia-study.yaml');
    writeFileSync(study, 'base: u-base\nfinetuned: u-ft\neval: { tasks: [d.jsonl] }\nvariants: [taia]\n');
    assert.equal(await vscode.commands.executeCommand('taiaLab.runStudy', { file: study }), undefined);
    assert.ok(!existsSync(path.join(root, '.taia', 'results')), 'no study ran');
  });
});
