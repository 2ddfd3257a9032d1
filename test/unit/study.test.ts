// Study files: the schema's checks, the expansion of grids and scans, and `taia study` end to end in
// child processes — caching by inputs, plan and tasks, resuming, the external command's written merge.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { loadStudy } from '../../src/core/study/load';
import { parseStudy } from '../../src/core/study/parse';
import { studyTables } from '../../src/core/study/read';
import { scanHeatmap, studyCsv, studyLatex, texEscape } from '../../src/core/study/table';
import { writeLlama } from '../helpers/models';
import { tempDir } from '../helpers/tmp';
import { TINY, writeStudyWorld } from '../helpers/training';

const CLI = path.resolve(__dirname, '../../../dist/cli.js');

function taia(cwd: string, ...args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf-8' });
}

function world(): string {
  const root = tempDir('taia-study-');
  writeStudyWorld(root);
  return root;
}

const STUDY = `name: tiny
base: base
finetuned: ft
eval:
  tasks: [mc.jsonl, gen.jsonl]
  max_new_tokens: 4
variants:
  - base
  - full
  - taia
  - { recipe: taia, layers: [0-0, 1-1], scale: [0.5, 1] }
  - { scan: revert-ffn-each }
`;

const evaluated = (stderr: string) => [...stderr.matchAll(/\] (\S+): evaluated/g)].map((m) => m[1]);
const cached = (stderr: string) => [...stderr.matchAll(/\] (\S+): cached/g)].map((m) => m[1]);

describe('study files', () => {
  it('refuses launcher: slurm with an evaluation command, on the launcher key', () => {
    const text = 'base: b\nfinetuned: f\nlauncher: slurm\neval: { command: "lm_eval --model hf" }\nvariants: [taia]\n';
    const { problems } = parseStudy(text, 'x.taia-study.yaml');
    assert.deepEqual(
      problems.map((p) => [p.path.join('.'), p.message]),
      [
        [
          'launcher',
          "'launcher: slurm' evaluates with the built-in evaluator (eval.tasks); an evaluation command runs where taia study runs",
        ],
      ],
    );
    assert.deepEqual(parseStudy(text.replace('slurm', 'local'), 'x.taia-study.yaml').problems, []);
  });

  it('reports each bad variant entry on its key, with "did you mean"', () => {
    const { problems } = parseStudy(
      'base: b\nfinetuned: f\neval: { tasks: [t.jsonl] }\nvariants:\n  - { recipe: taia, layer: 0-3 }\n  - { recipe: taia, layers: 5-2 }\n  - { scan: revert-ffn-each, recipe: taia }\n  - { recipe: taia, scale: [1, 2], name: two }\n  - { scale: x }\n  - 3\n',
      'x.taia-study.yaml',
    );
    const at = (i: number) =>
      problems.filter((p) => p.path[1] === i).map((p) => `${p.path.slice(2).join('.')}: ${p.message}`);
    assert.deepEqual(at(0), ["layer: unknown key 'layer'; did you mean 'layers'?"]);
    assert.match(at(1)[0], /^layers: 'layers': invalid layer range '5-2': end before start/);
    assert.match(at(2)[0], /^scan: .*a scan is its own set of variants/);
    assert.match(at(3)[0], /^name: .*a grid or a scan names its variants itself/);
    assert.deepEqual(at(4), [
      'scale: \'scale\': expected a number or a list of numbers, got "x"',
      "recipe: 'recipe': give a recipe (or a scan)",
    ]);
    assert.match(at(5)[0], /variant 6: a recipe name or a mapping/);
    const empty = parseStudy('base: b\nfinetuned: f\nengine: tfjss\n', 'x.taia-study.yaml').problems.map(
      (p) => p.message,
    );
    assert.ok(empty.some((m) => /'engine': expected one of tfjs, torch, got "tfjss"; did you mean 'tfjs'\?/.test(m)));
    assert.ok(empty.includes("'variants': list at least one recipe (e.g. [base, full, taia, taif])"));
    assert.ok(empty.includes("'eval': give task files (eval.tasks) or an evaluation command (eval.command)"));
  });

  it('expands grids and scans into named variants, and resolves a run folder to its newest checkpoint', async () => {
    const root = world();
    const run = path.join(root, '.taia', 'runs', 'r1', 'checkpoints');
    for (const step of [5, 10]) {
      writeLlama(path.join(run, `checkpoint-${step}`), TINY, { dtype: 'BF16', seed: 2 });
    }
    writeFileSync(path.join(root, 's.taia-study.yaml'), STUDY.replace('finetuned: ft', 'finetuned: .taia/runs/r1'));
    const study = await loadStudy(path.join(root, 's.taia-study.yaml'));
    assert.equal(study.finetuned, path.join(run, 'checkpoint-10'));
    assert.deepEqual(
      study.variants.map((v) => v.name),
      [
        'base',
        'full',
        'taia',
        'taia-L0-0-x0.5',
        'taia-L0-0-x1',
        'taia-L1-1-x0.5',
        'taia-L1-1-x1',
        'revert-ffn-L0',
        'revert-ffn-L1',
      ],
    );
    assert.deepEqual(study.variants.at(-1)!.scan, { kind: 'revert-ffn-each', layers: [1, 1] });
    writeFileSync(
      path.join(root, 'd.taia-study.yaml'),
      STUDY.replace('  - base\n', '  - base\n  - { recipe: full, name: base }\n'),
    );
    await assert.rejects(
      loadStudy(path.join(root, 'd.taia-study.yaml')),
      /d\.taia-study\.yaml:\d+:\d+: variant names must differ; twice: base/,
    );
    // A problem in a variant is placed on its key inside that entry.
    writeFileSync(
      path.join(root, 'b.taia-study.yaml'),
      STUDY.replace('  - taia\n', '  - { recipe: taia, layers: 9-3 }\n'),
    );
    await assert.rejects(
      loadStudy(path.join(root, 'b.taia-study.yaml')),
      /b\.taia-study\.yaml:10:21: 'layers': invalid layer range '9-3': end before start/,
    );
  });

  it('taia study evaluates every variant once, then only what changed, and resumes an interrupted study', async () => {
    const root = world();
    writeFileSync(path.join(root, 's.taia-study.yaml'), STUDY);
    const first = taia(root, 'study', 's.taia-study.yaml');
    assert.equal(first.status, 0, first.stderr);
    assert.equal(evaluated(first.stderr).length, 9);
    const out = path.join(root, '.taia', 'results', 'studies', 'tiny');
    // Ordinary result files: the Benchmarks view and the benchmark diff read them.
    const diff = taia(root, 'bench', 'diff', out, '--baseline', 'tiny:base', '--json');
    assert.equal(diff.status, 0, diff.stderr);
    assert.equal(JSON.parse(diff.stdout).models.length, 9);
    const index = JSON.parse(readFileSync(path.join(out, 'study.json'), 'utf-8'));
    assert.equal(index.variants.length, 9);
    assert.equal(index.layerCount, 2);
    // The study page's table and exports, from the folder as it is.
    const { tables, problems } = await studyTables(out);
    assert.deepEqual(problems, []);
    const t = tables.holm;
    assert.deepEqual([t.base, t.full, t.tasks.map((x) => x.task).join()], ['base', 'full', 'mc,gen']);
    assert.equal(t.rows.find((r) => r.name === 'base')!.cells[0].vsBase, undefined);
    assert.equal(typeof t.rows.find((r) => r.name === 'taia')!.cells[0].vsFull?.delta, 'number');
    assert.deepEqual(
      scanHeatmap(t).map((h) => h.layers),
      [
        [0, 0],
        [1, 1],
      ],
    );
    const csv = studyCsv(t).trim().split('\n');
    assert.equal(csv.length, 1 + 9 * 2);
    assert.match(csv[1], /^base,base,,,mc,acc,[\d.]+,,,,/);
    const tex = studyLatex(t);
    assert.match(tex, /\\toprule\nVariant & mc & gen & Avg\. \\\\\n\\midrule\n/);
    assert.equal((tex.match(/ \\\\$/gm) ?? []).length, 1 + 7, 'the header and a row per variant, scans left out');
    assert.equal(texEscape('a_b & 50% <x>'), 'a\\_b \\& 50\\% \\textless{}x\\textgreater{}');

    // One more variant: only it is evaluated.
    writeFileSync(path.join(root, 's.taia-study.yaml'), STUDY + '  - taif\n');
    const second = taia(root, 'study', 's.taia-study.yaml');
    assert.equal(second.status, 0, second.stderr);
    assert.deepEqual(evaluated(second.stderr), ['taif']);
    assert.equal(cached(second.stderr).length, 9);

    // An interruption after a variant's results but before its key: that variant again, nothing else.
    rmSync(path.join(out, 'taia.study-key.json'));
    const resumed = taia(root, 'study', 's.taia-study.yaml');
    assert.deepEqual(evaluated(resumed.stderr), ['taia']);

    // A changed fine-tune (its header hash changes) invalidates every variant that reads it.
    writeLlama(path.join(root, 'ft'), TINY, { dtype: 'BF16', seed: 3 });
    const changed = taia(root, 'study', 's.taia-study.yaml');
    assert.equal(changed.status, 0, changed.stderr);
    assert.equal(evaluated(changed.stderr).length, 10);
  });

  it('a variant scores as `taia eval --recipe` scores it', () => {
    const root = world();
    writeFileSync(
      path.join(root, 's.taia-study.yaml'),
      'name: one\nbase: base\nfinetuned: ft\neval: { tasks: [mc.jsonl], max_new_tokens: 4 }\nvariants: [{ recipe: taia, scale: 0.5 }]\n',
    );
    assert.equal(taia(root, 'study', 's.taia-study.yaml', '--quiet').status, 0);
    const single = taia(
      root,
      'eval',
      '--base',
      'base',
      '--finetuned',
      'ft',
      '--recipe',
      'taia',
      '--scale',
      '0.5',
      '--tasks',
      'mc.jsonl',
      '--max-new-tokens',
      '4',
      '--out',
      'single.taia-results.json',
      '--quiet',
    );
    assert.equal(single.status, 0, single.stderr);
    const records = (file: string) =>
      readFileSync(file, 'utf-8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).loglikelihoods);
    assert.deepEqual(
      records(path.join(root, 'single.samples.jsonl')),
      records(path.join(root, '.taia', 'results', 'studies', 'one', 'taia-x0.5.samples.jsonl')),
    );
    assert.equal(JSON.parse(readFileSync(path.join(root, 'single.taia-results.json'), 'utf-8')).model.name, 'ft-taia');
    const usage = taia(root, 'eval', '--finetuned', 'ft', '--recipe', 'taia', '--tasks', 'mc.jsonl');
    assert.equal(usage.status, 2);
    assert.match(usage.stderr, /--recipe needs --base/);
  });

  it('gives an external evaluation command a written merge and removes it afterwards', () => {
    const root = world();
    // The command records what it was given; lm-evaluation-harness would write results_<time>.json.
    const script = path.join(root, 'fake-eval.js');
    writeFileSync(
      script,
      `const fs = require('fs'); const [ckpt, out] = process.argv.slice(2); fs.writeFileSync(out + '/seen.json', JSON.stringify({ ckpt, files: fs.readdirSync(ckpt) }));\n`,
    );
    writeFileSync(
      path.join(root, 's.taia-study.yaml'),
      `name: ext\nbase: base\nfinetuned: ft\neval:\n  command: node fake-eval.js \${checkpoint} \${output}\nvariants: [taia, taif]\n`,
    );
    const r = taia(root, 'study', 's.taia-study.yaml');
    assert.equal(r.status, 0, r.stderr);
    const seen = JSON.parse(
      readFileSync(path.join(root, '.taia', 'results', 'studies', 'ext', 'taif', 'seen.json'), 'utf-8'),
    );
    assert.ok(seen.files.includes('model.safetensors') && seen.files.includes('taia_merge.json'));
    assert.equal(existsSync(seen.ckpt), false, 'the written merge is removed after the command');
    const again = taia(root, 'study', 's.taia-study.yaml');
    assert.deepEqual(cached(again.stderr), ['taia', 'taif']);
  });
});
