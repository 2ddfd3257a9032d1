// The experiment-file language server as editors see it: the bundled dist/server.js (built before the
// tests) in its own process, spoken to over stdio with JSON-RPC, on a generated model and dataset.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  CodeAction,
  CodeActionRequest,
  CodeLens,
  CodeLensRequest,
  CompletionItem,
  CompletionList,
  CompletionRequest,
  createProtocolConnection,
  Diagnostic,
  DidChangeWatchedFilesNotification,
  DidChangeWorkspaceFoldersNotification,
  DidOpenTextDocumentNotification,
  FileChangeType,
  DocumentSymbol,
  DocumentSymbolRequest,
  Hover,
  HoverRequest,
  InitializedNotification,
  InitializeRequest,
  ProtocolConnection,
  PublishDiagnosticsNotification,
  ShutdownRequest,
  StreamMessageReader,
  StreamMessageWriter,
} from 'vscode-languageserver/node';
import { experimentGrammar } from '../../src/server/grammar';
import { writeLlama } from '../helpers/models';
import { writeAlpacaDataset, writeTinyModel } from '../helpers/training';
import { tempDir } from '../helpers/tmp';

// out/test/unit -> repository root; compiled elsewhere, the tests run from the repository root.
const fromOut = path.resolve(__dirname, '../../..');
const repo = existsSync(path.join(fromOut, 'package.json')) ? fromOut : process.cwd();
const SERVER = path.join(repo, 'dist', 'server.js');

const ws = tempDir('taia-lsp-');
writeTinyModel(path.join(ws, 'model'));
writeAlpacaDataset(path.join(ws, 'data', 'train.jsonl'), 30);

const ERRORS = [
  '# an experiment with mistakes',
  'base: model',
  'dataset: data/missing.jsonl',
  'engnie: tfjs',
  'device: cpus',
  'train:',
  '  method: lora',
  '  batch_size: many',
  '  learning_rate: 2',
  'lora:',
  '  r: 8',
  '  target_modules:',
  '    - q_proj',
  '    - qq_proj',
  'merge:',
  '  recipe: taia',
  '',
].join('\n');

const COMPLETE = [
  'base: model',
  'dataset: data/train.jsonl',
  'engine: ',
  'train:',
  '  method: lora',
  '  ',
  'lora:',
  '  target_modules:',
  '    - ',
  '',
].join('\n');
const PATHS = ['base: ', 'dataset: ', ''].join('\n');

let server: ChildProcess;
let rpc: ProtocolConnection;
const published = new Map<string, Diagnostic[]>();
const waiters: (() => void)[] = [];

const uriOf = (name: string): string => pathToFileURL(path.join(ws, name)).href;
const range = (l1: number, c1: number, l2: number, c2: number) => ({
  start: { line: l1, character: c1 },
  end: { line: l2, character: c2 },
});

function open(name: string, text: string): string {
  const uri = uriOf(name);
  void rpc.sendNotification(DidOpenTextDocumentNotification.type, {
    textDocument: { uri, languageId: 'taia-experiment', version: 1, text },
  });
  return uri;
}

/** The diagnostics published for a document once `ready` accepts them (the server debounces and reads the disk). */
async function diagnostics(
  uri: string,
  ready: (d: Diagnostic[]) => boolean = () => true,
  ms = 10000,
): Promise<Diagnostic[]> {
  const end = Date.now() + ms;
  for (;;) {
    const d = published.get(uri);
    if (d && ready(d)) return d;
    if (Date.now() > end) assert.fail(`no diagnostics for ${uri} in ${ms} ms; last: ${JSON.stringify(d)}`);
    await new Promise<void>((r) => {
      waiters.push(r);
      setTimeout(r, 200);
    });
  }
}

async function completionLabels(uri: string, line: number, character: number): Promise<string[]> {
  const result = await rpc.sendRequest(CompletionRequest.type, {
    textDocument: { uri },
    position: { line, character },
  });
  const items: CompletionItem[] = Array.isArray(result) ? result : ((result as CompletionList | null)?.items ?? []);
  return items.map((i) => i.label);
}

describe('experiment language server over stdio', () => {
  before(async () => {
    assert.ok(existsSync(SERVER), `${SERVER} is missing: run \`node esbuild.mjs\` first`);
    server = spawn(process.execPath, [SERVER, '--stdio'], { stdio: ['pipe', 'pipe', 'inherit'] });
    rpc = createProtocolConnection(new StreamMessageReader(server.stdout!), new StreamMessageWriter(server.stdin!));
    rpc.onNotification(PublishDiagnosticsNotification.type, (p) => {
      published.set(p.uri, p.diagnostics);
      waiters.splice(0).forEach((w) => w());
    });
    rpc.listen();
    const init = await rpc.sendRequest(InitializeRequest.type, {
      processId: process.pid,
      rootUri: pathToFileURL(ws).href,
      workspaceFolders: [{ uri: pathToFileURL(ws).href, name: 'ws' }],
      capabilities: { workspace: { workspaceFolders: true } },
    });
    assert.ok(
      init.capabilities.completionProvider && init.capabilities.hoverProvider && init.capabilities.codeLensProvider,
    );
    await rpc.sendNotification(InitializedNotification.type, {});
  });

  after(async () => {
    await rpc.sendRequest(ShutdownRequest.type).catch(() => undefined);
    rpc.dispose();
    server.kill();
  });

  test('diagnostics have exact ranges: unknown key with suggestion, type and range errors, missing dataset, unmatched target module', async () => {
    const uri = open('errors.taia.yaml', ERRORS);
    const got = await diagnostics(uri);
    const summary = got
      .map((d) => ({ range: d.range, message: d.message, severity: d.severity }))
      .sort((a, b) => a.range.start.line - b.range.start.line);
    assert.deepEqual(summary, [
      {
        range: range(2, 9, 2, 27),
        message: `'dataset': ${path.join(ws, 'data', 'missing.jsonl')} does not exist`,
        severity: 1,
      },
      { range: range(3, 0, 3, 6), message: "unknown key 'engnie'; did you mean 'engine'?", severity: 1 },
      {
        range: range(4, 8, 4, 12),
        message: `'device': expected one of auto, gpu, cpu, got "cpus"; did you mean 'cpu'?`,
        severity: 1,
      },
      { range: range(7, 14, 7, 18), message: `'batch_size': expected an integer, got "many"`, severity: 1 },
      { range: range(8, 17, 8, 18), message: "'learning_rate': must be at most 1, got 2", severity: 1 },
      {
        range: range(13, 6, 13, 13),
        message:
          "'qq_proj' matches no linear module of the base model; did you mean 'q_proj'? (modules: down_proj, gate_proj, k_proj, o_proj, q_proj, up_proj, v_proj)",
        severity: 2,
      },
    ]);
  });

  test('quick fixes replace the misspelt key, enum value and module name', async () => {
    const uri = uriOf('errors.taia.yaml');
    const got = await diagnostics(uri);
    const actions = (await rpc.sendRequest(CodeActionRequest.type, {
      textDocument: { uri },
      range: range(0, 0, 14, 0),
      context: { diagnostics: got },
    })) as CodeAction[];
    const edits = actions.map((a) => ({ title: a.title, edit: a.edit!.changes![uri][0] }));
    assert.deepEqual(
      edits.sort((a, b) => a.edit.range.start.line - b.edit.range.start.line),
      [
        { title: "Change to 'engine'", edit: { range: range(3, 0, 3, 6), newText: 'engine' } },
        { title: "Change to 'cpu'", edit: { range: range(4, 8, 4, 12), newText: 'cpu' } },
        { title: "Change to 'q_proj'", edit: { range: range(13, 6, 13, 13), newText: 'q_proj' } },
      ],
    );
  });

  test('a sound experiment has no diagnostics; a folder that is not a model is reported on its value', async () => {
    const good = open('good.taia.yaml', 'base: model\ndataset: data/train.jsonl\ntrain:\n  method: lora\n');
    assert.deepEqual(await diagnostics(good), []);
    const bad = open('bad.taia.yaml', 'base: data\ndataset: model/config.json\n');
    const got = await diagnostics(bad);
    assert.deepEqual(
      got.map((d) => [d.range, d.message]),
      [
        [
          range(0, 6, 0, 10),
          `'base': ${path.join(ws, 'data')} is not a model folder (config.json with safetensors weights)`,
        ],
        [
          range(1, 9, 1, 26),
          `'dataset': ${path.join(ws, 'model', 'config.json')} is not a dataset: no known format (Alpaca, ShareGPT, chat messages, prompt/completion, text, Parquet)`,
        ],
      ],
    );
  });

  test('a base without a tokenizer is an error on its value (the run would fail at its start); torch also reads tokenizer.model', async () => {
    // Outside the workspace, so completion of the workspace's models is unaffected.
    const bare = path.join(tempDir('taia-lsp-bare-'), 'bare');
    writeLlama(
      bare,
      { layers: 1, hidden: 16, intermediate: 32, vocab: 64, heads: 2, kvHeads: 2 },
      { dtype: 'F32', seed: 1 },
    );
    const uri = open('bare.taia.yaml', `base: ${bare}\ndataset: data/train.jsonl\n`);
    const got = await diagnostics(uri);
    assert.deepEqual(
      got.map((d) => [d.range, d.severity, d.message]),
      [
        [
          range(0, 6, 0, 6 + bare.length),
          1,
          `'base': ${bare} has no tokenizer (tokenizer.json: the built-in engine reads the "fast" tokenizer.json only); copy it from where the model came from`,
        ],
      ],
    );
    writeFileSync(path.join(bare, 'tokenizer.model'), 'sentencepiece');
    assert.deepEqual(
      await diagnostics(open('bare-torch.taia.yaml', `base: ${bare}\ndataset: data/train.jsonl\nengine: torch\n`)),
      [],
    );
  });

  test('a run that cannot fit the CPU gets a memory warning on the base', async () => {
    const uri = open(
      'memory.taia.yaml',
      'base: model\ndataset: data/train.jsonl\ndevice: cpu\ntrain:\n  batch_size: 4096\n  max_seq_length: 131072\n',
    );
    const [warning, ...rest] = await diagnostics(uri);
    assert.deepEqual(rest, []);
    assert.deepEqual(warning.range, range(0, 6, 0, 11));
    assert.equal(warning.severity, 2);
    assert.match(
      warning.message,
      /^training needs about 2\.\d+ TB \(weights .*, activations 2\.\d+ TB\), more than the .* of the CPU; lower train\.batch_size/,
    );
  });

  test('files created later are found once the client reports the change', async () => {
    const uri = open('later.taia.yaml', 'base: model\ndataset: data/later.jsonl\n');
    assert.match((await diagnostics(uri))[0]?.message ?? '', /later\.jsonl does not exist/);
    writeAlpacaDataset(path.join(ws, 'data', 'later.jsonl'), 5);
    await rpc.sendNotification(DidChangeWatchedFilesNotification.type, {
      changes: [{ uri: uriOf('data/later.jsonl'), type: FileChangeType.Created }],
    });
    await diagnostics(uri, (d) => d.length === 0);
  });

  test('completion offers enum values, section keys, module names of the base, and workspace paths', async () => {
    const uri = open('complete.taia.yaml', COMPLETE);
    assert.deepEqual(await completionLabels(uri, 2, 8), ['tfjs', 'torch', 'command']);
    const trainKeys = await completionLabels(uri, 5, 2);
    assert.ok(trainKeys.includes('learning_rate') && trainKeys.includes('batch_size'), trainKeys.join());
    assert.ok(!trainKeys.includes('method'), 'keys already present are not offered again');
    assert.ok(!trainKeys.includes('base'), 'only keys of the enclosing section');
    assert.deepEqual(await completionLabels(uri, 8, 6), [
      'down_proj',
      'gate_proj',
      'k_proj',
      'o_proj',
      'q_proj',
      'up_proj',
      'v_proj',
    ]);
    const paths = open('paths.taia.yaml', PATHS);
    assert.deepEqual(await completionLabels(paths, 0, 6), ['model']);
    const datasets = await completionLabels(paths, 1, 9);
    assert.ok(datasets.includes('data/train.jsonl'), datasets.join());
    assert.ok(!datasets.some((d) => d.startsWith('model/')), 'files of a model folder are not datasets');
  });

  test('knows the keys of engine: command: the command is required, the base and dataset are not', async () => {
    const uri = open('command.taia.yaml', 'engine: command\n\n');
    assert.deepEqual(
      (await diagnostics(uri, (d) => d.length > 0)).map((d) => d.message),
      ["'command': is required with engine command"],
    );
    const keys = await completionLabels(uri, 1, 0);
    for (const k of ['command', 'cwd', 'env', 'output_dir', 'cancel_grace_seconds'])
      assert.ok(keys.includes(k), keys.join());
  });

  test('a workspace folder added later brings its checkpoints to completion; a removed one takes them away', async () => {
    const other = tempDir('taia-lsp-other-');
    writeTinyModel(path.join(other, 'shared-model'));
    const folder = { uri: pathToFileURL(other).href, name: 'other' };
    const paths = open('folders.taia.yaml', PATHS);
    assert.deepEqual(await completionLabels(paths, 0, 6), ['model']);
    await rpc.sendNotification(DidChangeWorkspaceFoldersNotification.type, { event: { added: [folder], removed: [] } });
    const withOther = await completionLabels(paths, 0, 6);
    assert.deepEqual(withOther.length, 2, withOther.join());
    assert.equal(
      path.resolve(
        ws,
        withOther.find((l) => l !== 'model')!,
      ),
      path.join(other, 'shared-model'),
    );
    await rpc.sendNotification(DidChangeWorkspaceFoldersNotification.type, { event: { added: [], removed: [folder] } });
    assert.deepEqual(await completionLabels(paths, 0, 6), ['model']);
  });

  test('hover shows the field documentation, and a checkpoint summary on the base path', async () => {
    const uri = uriOf('errors.taia.yaml');
    const onKey = (await rpc.sendRequest(HoverRequest.type, {
      textDocument: { uri },
      position: { line: 8, character: 4 },
    })) as Hover;
    assert.match(
      (onKey.contents as { value: string }).value,
      /\*\*learning_rate\*\* — number > 0, ≤ 1, default 0\.0002\n\nPeak learning rate\./,
    );
    assert.deepEqual(onKey.range, range(8, 2, 8, 15));
    const onBase = (await rpc.sendRequest(HoverRequest.type, {
      textDocument: { uri },
      position: { line: 1, character: 8 },
    })) as Hover;
    assert.match(
      (onBase.contents as { value: string }).value,
      /\*\*model\*\* checkpoint · LlamaForCausalLM[^]*parameters \(F32 [^]* 2 layers/,
    );
  });

  test('code lenses run Train, Merge and Evaluate on the file', async () => {
    const uri = uriOf('errors.taia.yaml');
    const lenses = (await rpc.sendRequest(CodeLensRequest.type, { textDocument: { uri } })) as CodeLens[];
    const experiment = { experiment: path.join(ws, 'errors.taia.yaml') };
    assert.deepEqual(
      lenses.map((l) => [l.range.start.line, l.command]),
      [
        [0, { title: 'Train', command: 'taiaLab.startTraining', arguments: [uri] }],
        [0, { title: 'Merge', command: 'taiaLab.mergeTaia', arguments: [experiment] }],
        [0, { title: 'Evaluate', command: 'taiaLab.evaluate', arguments: [experiment] }],
      ],
    );
  });

  test('study files: the same diagnostics, completion, hover and a Run study lens, from the study schema', async () => {
    const text = [
      'base: model',
      'finetuned: nowhere',
      'engine: torhc',
      'eval:',
      '  tasks: [missing.jsonl]',
      'variants:',
      '  - taia',
      '  - { recipe: taia, layer: 0-1 }',
      '  - recipe: ',
      '    scan: revert-ffn-each',
      '  - ta',
      '',
    ].join('\n');
    const uri = open('errors.taia-study.yaml', text);
    const got = (await diagnostics(uri))
      .map((d) => ({ range: d.range, message: d.message }))
      .sort((a, b) => a.range.start.line - b.range.start.line || a.range.start.character - b.range.start.character);
    assert.deepEqual(
      got.filter((d) => d.range.start.line < 8),
      [
        { range: range(1, 11, 1, 18), message: `'finetuned': ${path.join(ws, 'nowhere')} does not exist` },
        {
          range: range(2, 8, 2, 13),
          message: `'engine': expected one of tfjs, torch, got "torhc"; did you mean 'torch'?`,
        },
        { range: range(4, 10, 4, 23), message: `task file ${path.join(ws, 'missing.jsonl')} does not exist` },
        { range: range(7, 20, 7, 25), message: "unknown key 'layer'; did you mean 'layers'?" },
      ],
    );
    assert.deepEqual(
      got.filter((d) => d.range.start.line === 10),
      [
        {
          range: range(10, 4, 10, 6),
          message: `${path.join(ws, 'ta')}: not a built-in recipe (taia, taia-strict, taif, full, base) and not a readable recipe file (${path.join(ws, 'ta')}: cannot read: does not exist)`,
        },
      ],
    );
    assert.deepEqual(await completionLabels(uri, 8, 12), ['taia', 'taia-strict', 'taif', 'full', 'base']);
    assert.deepEqual(await completionLabels(uri, 10, 6), ['taia', 'taia-strict', 'taif', 'full', 'base']);
    assert.deepEqual(await completionLabels(uri, 9, 10), ['revert-ffn-each', 'revert-ffn-first']);
    const onScan = (await rpc.sendRequest(HoverRequest.type, {
      textDocument: { uri },
      position: { line: 9, character: 6 },
    })) as Hover;
    assert.match(
      (onScan.contents as { value: string }).value,
      /\*\*scan\*\* — one of `revert-ffn-each`, `revert-ffn-first`/,
    );
    const lenses = (await rpc.sendRequest(CodeLensRequest.type, { textDocument: { uri } })) as CodeLens[];
    assert.deepEqual(
      lenses.map((l) => l.command),
      [
        {
          title: 'Run study',
          command: 'taiaLab.runStudy',
          arguments: [{ file: path.join(ws, 'errors.taia-study.yaml') }],
        },
      ],
    );
  });

  test('document symbols list sections with their keys', async () => {
    const symbols = (await rpc.sendRequest(DocumentSymbolRequest.type, {
      textDocument: { uri: uriOf('errors.taia.yaml') },
    })) as DocumentSymbol[];
    assert.deepEqual(
      symbols.map((s) => [s.name, s.children?.map((c) => c.name) ?? []]),
      [
        ['base', []],
        ['dataset', []],
        ['engnie', []],
        ['device', []],
        ['train', ['method', 'batch_size', 'learning_rate']],
        ['lora', ['r', 'target_modules']],
        ['merge', ['recipe']],
      ],
    );
    assert.deepEqual(symbols[4].selectionRange, range(5, 0, 5, 5));
    assert.deepEqual(symbols[4].range, range(5, 0, 8, 18));
  });

  test('malformed, hostile and huge input gets diagnostics and never stops the server', async () => {
    const broken = open('broken.taia.yaml', 'base: [model\ntrain:\n\t- : : {\n');
    assert.ok((await diagnostics(broken)).length > 0);
    const bomb = [
      'a: &a [x, x, x, x, x, x, x, x, x]',
      ...Array.from(
        { length: 12 },
        (_, i) =>
          `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [*${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}]`,
      ),
    ].join('\n');
    const aliases = open('bomb.taia.yaml', bomb);
    assert.match((await diagnostics(aliases))[0].message, /alias/i);
    const deep = open('deep.taia.yaml', `base: ${'['.repeat(20000)}`);
    assert.ok((await diagnostics(deep)).length > 0);
    const huge = open('huge.taia.yaml', `# ${'x'.repeat(2_000_000)}\n`);
    assert.match((await diagnostics(huge))[0].message, /too large/);
    // Still answering.
    assert.deepEqual(await completionLabels(uriOf('complete.taia.yaml'), 2, 8), ['tfjs', 'torch', 'command']);
  });
});

describe('experiment grammar', () => {
  const file = path.join(repo, 'syntaxes', 'taia-experiment.tmLanguage.json');
  const grammar = experimentGrammar() as {
    repository: { keys: { match: string }; values: { patterns: { match: string }[] } };
  };

  test('syntaxes/taia-experiment.tmLanguage.json is the grammar derived from the schema', () => {
    const text = JSON.stringify(grammar, null, 2) + '\n';
    if (process.env.TAIA_WRITE_GRAMMAR === '1') writeFileSync(file, text);
    assert.equal(
      readFileSync(file, 'utf-8'),
      text,
      'regenerate it: TAIA_WRITE_GRAMMAR=1 node --test out/test/unit/server.test.js',
    );
  });

  test('its rules find schema keys and enum values, not unknown keys or other values', () => {
    const keys = new RegExp(grammar.repository.keys.match);
    assert.equal(keys.exec('  learning_rate: 2')?.[1], 'learning_rate');
    assert.equal(keys.exec('train:')?.[1], 'train');
    assert.equal(keys.exec('  my_learning_rate: 2'), null);
    assert.equal(keys.exec('basement: x'), null);
    const values = grammar.repository.values.patterns.map((p) => new RegExp(p.match));
    const value = (line: string) => values.map((re) => re.exec(line)?.[4]).find(Boolean);
    assert.equal(value('engine: tfjs  # the default'), 'tfjs');
    assert.equal(value('  lr_scheduler_type: "cosine"'), 'cosine');
    assert.equal(value('  recipe: taia-strict'), 'taia-strict');
    assert.equal(value('engine: tfjsx'), undefined);
    assert.equal(value('name: tfjs'), undefined);
  });
});
