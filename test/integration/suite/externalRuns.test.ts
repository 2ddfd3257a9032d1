// Runs of other tools in the real VS Code host: a TRL output folder, a Seq2SeqTrainer folder and
// TensorBoard logs (real files from public repositories) appear in the Runs view with their source,
// their dashboards open and compare; a folder being written is followed; an `engine: command` run
// started with Start fine-tuning is followed live and cancelled with SIGINT.
import * as assert from 'node:assert/strict';
import { cpSync, mkdirSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { TaiaLabApi } from '../../../src/extension/extension';
import type { RunNode } from '../../../src/extension/runs/runsTree';
import { stringify } from 'yaml';

const REPO = path.resolve(__dirname, '../../../..');
const FIXTURES = path.join(REPO, 'test/fixtures/runs');

/** Dates a copied folder an hour back: it reads as finished, not as being written. */
function backdate(p: string): void {
  if (statSync(p).isDirectory()) for (const n of readdirSync(p)) backdate(path.join(p, n));
  const old = new Date(Date.now() - 3600_000);
  utimesSync(p, old, old);
}

async function waitFor<T>(what: string, get: () => T | undefined, ms = 60000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = get();
    if (v !== undefined) return v;
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

suite('Runs of other tools in the real host', () => {
  test('Trainer output folders and TensorBoard logs show in the Runs view with their source, and open and compare', async function () {
    this.timeout(120000);
    const root = vscode.workspace.workspaceFolders![0].uri.fsPath;
    const ws = path.join(root, 'external');
    cpSync(path.join(FIXTURES, 'tinyllama-sft'), path.join(ws, 'results/tinyllama'), { recursive: true });
    cpSync(path.join(FIXTURES, 'whisper-small-hi'), path.join(ws, 'whisper-small-colab'), { recursive: true });
    mkdirSync(path.join(ws, 'logs/run_1'), { recursive: true });
    cpSync(
      path.join(FIXTURES, 'tensorboard-reducer/strict/events.out.tfevents.1622543341.janoshs-mbp.lan.86862.0'),
      path.join(ws, 'logs/run_1/events.out.tfevents.1622543341.janoshs-mbp.lan.86862.0'),
    );
    backdate(ws);
    const api = await vscode.extensions.getExtension<TaiaLabApi>('taia-lab.taia-lab')!.activate();
    await api.trees.runs.refresh();
    const find = (id: string) => api.trees.runs.current.find((r) => r.status.id === id);
    const trl = await waitFor('the TRL run', () => find('external/results/tinyllama'));
    const item = api.trees.runs.getTreeItem(trl);
    assert.match(
      String(item.description),
      /^TRL · interrupted · 2800\/2808 · loss 1\.\d{3} · \d{4}-\d\d-\d\d \d\d:\d\d$/,
    );
    assert.equal(item.contextValue, 'external.interrupted');
    const tb = find('external/logs/run_1')!;
    assert.match(String(api.trees.runs.getTreeItem(tb).description), /^TensorBoard · done · step 495/);

    const dashboard = await vscode.commands.executeCommand<{ rendered: Promise<number> }>(
      'taiaLab.openRunDashboard',
      trl,
    );
    assert.equal(await dashboard.rendered, 186);
    const whisper = find('external/whisper-small-colab')!;
    const comparison = await vscode.commands.executeCommand<{ rendered: Promise<number> }>('taiaLab.compareRuns', trl, [
      trl,
      whisper,
    ] satisfies RunNode[]);
    assert.equal(await comparison.rendered, 2);
  });

  test('a Trainer folder being written is followed as its checkpoints appear', async function () {
    this.timeout(60000);
    const root = vscode.workspace.workspaceFolders![0].uri.fsPath;
    const out = path.join(root, 'external/live-out');
    const state = (step: number) =>
      JSON.stringify({
        global_step: step,
        max_steps: 10,
        log_history: Array.from({ length: step }, (_, i) => ({
          step: i + 1,
          loss: 2 - i / 10,
          learning_rate: 1e-4,
          epoch: (i + 1) / 10,
        })),
      });
    mkdirSync(path.join(out, 'checkpoint-1'), { recursive: true });
    writeFileSync(path.join(out, 'checkpoint-1/trainer_state.json'), state(1));
    const api = await vscode.extensions.getExtension<TaiaLabApi>('taia-lab.taia-lab')!.activate();
    await api.trees.runs.refresh();
    const find = () => api.trees.runs.current.find((r) => r.status.id === 'external/live-out');
    assert.equal((await waitFor('the live run', find)).status.state, 'running');
    mkdirSync(path.join(out, 'checkpoint-2'));
    writeFileSync(path.join(out, 'checkpoint-2/trainer_state.json'), state(2));
    // No refresh here: the watcher or the poll brings it.
    const later = await waitFor('step 2', () => (find()?.status.step === 2 ? find() : undefined));
    assert.equal(later.status.lastCheckpoint, 'checkpoint-2');
  });

  test('engine: command through Start fine-tuning: followed live, cancelled with SIGINT, its checkpoint recorded', async function () {
    this.timeout(120000);
    const root = vscode.workspace.workspaceFolders![0].uri.fsPath;
    const dir = path.join(root, 'command');
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, 'hf-like.taia.yaml');
    writeFileSync(
      file,
      stringify({
        name: 'hf-like',
        engine: 'command',
        command: [
          'python3',
          path.join(REPO, 'test/fixtures/commands/hf_trainer_like.py'),
          '--output_dir',
          'saves/run',
          '--max_steps',
          '100000',
          '--logging_steps',
          '1',
          '--save_steps',
          '100000',
        ],
        output_dir: 'saves/run',
      }),
    );
    const api = await vscode.extensions.getExtension<TaiaLabApi>('taia-lab.taia-lab')!.activate();
    const runDir = await vscode.commands.executeCommand<string>('taiaLab.startTraining', { experiment: file });
    assert.ok(runDir, 'the command returns the run folder');
    const node = await waitFor('the command run to log steps', () =>
      api.trees.runs.current.find((r) => r.dir === runDir && r.status.state === 'running' && r.status.step >= 3),
    );
    // Its output folder is this run, not a second one in the view.
    assert.ok(!api.trees.runs.current.some((r) => r.external && r.dir === path.join(dir, 'saves/run')));
    await vscode.commands.executeCommand('taiaLab.cancelRun', node);
    const done = await waitFor('the cancelled run', () =>
      api.trees.runs.current.find((r) => r.dir === runDir && r.status.state === 'cancelled'),
    );
    assert.equal(done.status.stopSignal, 'SIGINT');
    assert.match(done.status.lastCheckpoint ?? '', /saves\/run\/checkpoint-\d+$/);
    assert.match(
      readFileSync(path.join(runDir, 'trainer.out'), 'utf-8'),
      /interrupted at step \d+, saved checkpoint-\d+/,
    );
  });
});
