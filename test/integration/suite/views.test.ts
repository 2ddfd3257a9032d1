// Runs inside the real VS Code extension host (code-server), against the installed .vsix.
import * as assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { TaiaLabApi } from '../../../src/extension/extension';
import type { CheckpointNode } from '../../../src/extension/workspace/checkpointsTree';
import type { DeltaReview } from '../../../src/extension/deltaReview/panel';
import { writeAdapter, llamaTensorShapes, writeLlama, LlamaShape } from '../../helpers/models';
import { writeFileSync } from 'node:fs';
import { eventually } from '../../helpers/eventually';

const shape: LlamaShape = { layers: 2, hidden: 16, intermediate: 24, vocab: 32, heads: 4, kvHeads: 2 };

function workspaceRoot(): string {
  const folder = vscode.workspace.workspaceFolders?.[0];
  assert.ok(folder, 'the test host opens a workspace folder');
  return folder.uri.fsPath;
}

async function api(): Promise<TaiaLabApi> {
  const ext = vscode.extensions.getExtension<TaiaLabApi>('taia-lab.taia-lab');
  assert.ok(ext, 'extension taia-lab.taia-lab is installed');
  return ext.activate();
}

async function labels(a: TaiaLabApi): Promise<Map<string, { description: string; group: string; context: string }>> {
  const out = new Map<string, { description: string; group: string; context: string }>();
  const tree = a.trees.checkpoints;
  for (const group of tree.getChildren()) {
    const g = String(tree.getTreeItem(group).label);
    for (const node of tree.getChildren(group) as CheckpointNode[]) {
      const item = tree.getTreeItem(node);
      out.set(String(item.label), {
        description: String(item.description),
        group: g,
        context: String(item.contextValue),
      });
    }
  }
  return out;
}

suite('TAIA Lab in a real VS Code host', () => {
  let root: string;
  let a: TaiaLabApi;

  suiteSetup(async function () {
    this.timeout(60000);
    root = workspaceRoot();
    writeLlama(path.join(root, 'models', 'base'), shape, { seed: 1, tokenizer: true });
    writeLlama(path.join(root, 'models', 'ft'), shape, { seed: 2, tokenizer: true });
    writeAdapter(path.join(root, 'adapters', 'lora-qv'), llamaTensorShapes(shape), {
      r: 4,
      alpha: 8,
      targets: ['q_proj', 'v_proj'],
    });
    mkdirSync(path.join(root, 'data'), { recursive: true });
    writeFileSync(
      path.join(root, 'data', 'alpaca.jsonl'),
      Array.from({ length: 12 }, (_, i) =>
        JSON.stringify({ instruction: `Add ${i} and 1 <b>`, input: '', output: String(i + 1) }),
      ).join('\n') + '\n',
    );
    writeFileSync(
      path.join(root, 'data', 'chat.json'),
      JSON.stringify([
        {
          messages: [
            { role: 'user', content: 'hi' },
            { role: 'assistant', content: 'hello' },
          ],
        },
      ]),
    );
    a = await api();
    await vscode.commands.executeCommand('taiaLab.refresh');
  });

  suiteTeardown(() => {
    for (const d of ['models', 'adapters', 'data', 'merged'])
      rmSync(path.join(root, d), { recursive: true, force: true });
  });

  test('activates and registers its commands', async () => {
    // Reported, not asserted: timings belong in figures, not in pass/fail.
    console.log(`    activation took ${a.activationMs.toFixed(1)} ms (bundle evaluation ${a.loadMs.toFixed(1)} ms)`);
    assert.ok(Number.isFinite(a.activationMs) && a.activationMs > 0);
    const commands = await vscode.commands.getCommands(true);
    for (const c of [
      'taiaLab.mergeTaia',
      'taiaLab.refresh',
      'taiaLab.previewDataset',
      'taiaLab.inspectDeltas',
      'taiaLab.copyPath',
      'taiaLab.revealInExplorer',
    ])
      assert.ok(commands.includes(c), c);
  });

  test('the Checkpoints tree lists models and adapters with their details', async () => {
    const l = await labels(a);
    assert.equal(l.get('base')?.group, 'Models');
    assert.match(l.get('base')!.description, /^LlamaForCausalLM · [\d.]+K · BF16 · /);
    assert.equal(l.get('base')?.context, 'checkpoint.model');
    assert.equal(l.get('lora-qv')?.group, 'LoRA adapters');
    assert.match(l.get('lora-qv')!.description, /^LoRA r=4 α=8 · q_proj, v_proj/);
  });

  test('the Datasets tree lists datasets detected by content', async () => {
    const tree = a.trees.datasets;
    const items = tree.getChildren().map((e) => tree.getTreeItem(e));
    const byLabel = new Map(items.map((i) => [String(i.label), String(i.description)]));
    assert.match(byLabel.get('alpaca.jsonl') ?? '', /^Alpaca · 12 rows/);
    assert.match(byLabel.get('chat.json') ?? '', /^chat messages · 1 rows/);
    assert.ok(![...byLabel.keys()].includes('config.json'), 'model files are not datasets');
  });

  test('Apply TAIA merge writes a correct checkpoint, which then appears in the tree', async function () {
    this.timeout(60000);
    const out = path.join(root, 'merged', 'ft-taia');
    const written = await vscode.commands.executeCommand<string>('taiaLab.mergeTaia', {
      base: path.join(root, 'models', 'base'),
      finetuned: path.join(root, 'models', 'ft'),
      out,
      recipe: 'taia',
      confirm: false,
    });
    assert.equal(written, out);
    assert.ok(
      existsSync(path.join(out, 'model.safetensors')) &&
        existsSync(path.join(out, 'taia_merge.json')) &&
        existsSync(path.join(out, 'config.json')),
    );
    assert.deepEqual(
      readdirSync(path.dirname(out)).filter((n) => n.includes('taia-tmp')),
      [],
    );
    await eventually(async () => {
      const l = await labels(a);
      assert.equal(l.get('ft-taia')?.group, 'Merged outputs');
      assert.match(l.get('ft-taia')!.description, /^taia · LlamaForCausalLM/);
    });
  });

  test('a file-system watcher picks up a new checkpoint without a refresh', async function () {
    this.timeout(30000);
    writeLlama(path.join(root, 'models', 'late-arrival'), shape, { seed: 5 });
    await eventually(async () => assert.equal((await labels(a)).get('late-arrival')?.group, 'Models'), 20000);
    rmSync(path.join(root, 'models', 'late-arrival'), { recursive: true, force: true });
    await eventually(async () => assert.ok(!(await labels(a)).has('late-arrival')), 20000);
    // Written in a hidden folder, then renamed into place, as `taia merge` does from a terminal.
    const staging = path.join(root, 'models', '.staging-x');
    writeLlama(staging, shape, { seed: 6 });
    await new Promise((r) => setTimeout(r, 800));
    assert.ok(!(await labels(a)).has('.staging-x'), 'hidden folders are not listed');
    renameSync(staging, path.join(root, 'models', 'renamed-in'));
    await eventually(async () => assert.equal((await labels(a)).get('renamed-in')?.group, 'Models'), 20000);
  });

  test('Inspect weight deltas opens the review and checks a TAIA output three ways', async function () {
    this.timeout(60000);
    const models = path.join(root, 'models');
    const review = await vscode.commands.executeCommand<DeltaReview>('taiaLab.inspectDeltas', {
      base: path.join(models, 'base'),
      finetuned: path.join(models, 'ft'),
      merged: path.join(root, 'merged', 'ft-taia'),
      spectrum: 2,
    });
    assert.ok(review, 'the command returns the review');
    const report = await review.finished;
    assert.ok(report, 'the review finished');
    assert.equal(report.tensors.length, 21);
    assert.match(report.threeWay!.verdict, /^TAIA check passed/);
    assert.ok(report.tensors.every((t) => t.spectrum === undefined || t.spectrum.length === 2));
    const tab = vscode.window.tabGroups.all.flatMap((g) => g.tabs).find((t) => t.label === 'TAIA check: ft-taia');
    assert.ok(tab, 'a review tab is open, titled as the three-way check it is');
  });

  test("Preview shows a dataset's rows escaped", async () => {
    const entry = a.index.datasetList.find((d) => d.file.endsWith('alpaca.jsonl'));
    assert.ok(entry);
    const panel = await vscode.commands.executeCommand<vscode.WebviewPanel>('taiaLab.previewDataset', entry);
    assert.ok(panel);
    const html = panel.webview.html;
    assert.match(html, /Add 0 and 1 &lt;b&gt;/);
    assert.ok(!html.includes('<b>'), 'workspace text is escaped');
    assert.match(html, /Content-Security-Policy" content="default-src 'none'/);
    panel.dispose();
  });
});
