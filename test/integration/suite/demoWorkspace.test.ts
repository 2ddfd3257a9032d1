// TAIA: Create the demo workspace from the installed extension: the base model it ships, the data,
// the tasks and an experiment file that loads; a folder that holds something is refused.
import * as assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { parse } from 'yaml';
import { loadExperiment } from '../../../src/core/experiment/load';

suite('Create the demo workspace in the real host', () => {
  test('writes the base model, data, tasks and a YAML experiment that loads; refuses a non-empty folder', async function () {
    this.timeout(30000);
    const parent = mkdtempSync(path.join(tmpdir(), 'taia-demo-cmd-'));
    try {
      const dir = path.join(parent, 'demo-workspace');
      assert.equal(await vscode.commands.executeCommand<string>('taiaLab.createDemoWorkspace', { dir }), dir);
      for (const f of [
        'models/base/model.safetensors',
        'models/base/tokenizer.json',
        'data/word-games.jsonl',
        'tasks/capitals.jsonl',
        'tasks/capitals_mc.jsonl',
        'tasks/sums.jsonl',
        'tasks/knowledge.jsonl',
      ])
        assert.ok(existsSync(path.join(dir, f)), f);
      const text = readFileSync(path.join(dir, 'word-games.taia.yaml'), 'utf-8');
      assert.ok(!text.includes('{'), 'the experiment is YAML, not JSON in a .taia.yaml');
      assert.equal(parse(text).name, 'word-games');
      const config = await loadExperiment(path.join(dir, 'word-games.taia.yaml'));
      assert.equal(config.train.method, 'full');
      assert.equal(config.eval.tasks.length, 4);
      const busy = path.join(parent, 'busy');
      mkdirSync(busy);
      writeFileSync(path.join(busy, 'keep.txt'), 'mine');
      assert.equal(await vscode.commands.executeCommand('taiaLab.createDemoWorkspace', { dir: busy }), undefined);
      assert.equal(readFileSync(path.join(busy, 'keep.txt'), 'utf-8'), 'mine', 'nothing was overwritten');
    } finally {
      rmSync(parent, { recursive: true, force: true });
    }
  });
});
