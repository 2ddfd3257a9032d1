// Runs of other tools read in place: TensorBoard event files (real ones from public repositories and
// ones generated here with protobufjs for the edge cases) and Hugging Face Trainer output folders.
import { strict as assert } from 'node:assert';
import { cpSync, mkdirSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { discoverExternalRuns, listExternalRuns, readExternalRun } from '../../src/core/runs/external';
import { parsePythonJson, readTrainerState } from '../../src/core/runs/external/hfTrainer';
import { decodeEvents, eventProto } from '../../src/core/runs/external/tensorboard';
import { maskedCrc32c, readTfRecords, writeTfRecords } from '../../src/core/runs/external/tfrecord';
import { readRunData } from '../../src/core/runs/view';
import { tempDir } from '../helpers/tmp';

const FIXTURES = path.resolve(__dirname, '../../../test/fixtures/runs');
const STRICT = path.join(FIXTURES, 'tensorboard-reducer/strict/events.out.tfevents.1622543341.janoshs-mbp.lan.86862.0');
const LAX = path.join(FIXTURES, 'tensorboard-reducer/lax/events.out.tfevents.1622543341.janoshs-mbp.lan.86862.3');
const Event = eventProto.lookupType('tensorboard.Event');

/** An event file as TF2's summary writer lays it out: the file_version event, then one event per value. */
function eventFile(events: Record<string, unknown>[]): Buffer {
  return writeTfRecords(
    [{ wall_time: 1700000000, file_version: 'brain.Event:2' }, ...events].map((e) =>
      Event.encode(Event.fromObject(e)).finish(),
    ),
  );
}

const f32 = (x: number) => {
  const b = Buffer.alloc(4);
  b.writeFloatLE(x);
  return b;
};

/** Copies a fixture folder and dates its files an hour back, so it reads as finished rather than being written. */
function copyFinished(from: string, to: string): string {
  cpSync(from, to, { recursive: true });
  const old = new Date(Date.now() - 3600_000);
  const touch = (p: string) => {
    if (statSync(p).isDirectory()) for (const n of readdirSync(p)) touch(path.join(p, n));
    utimesSync(p, old, old);
  };
  touch(to);
  return to;
}

describe('TFRecord framing', () => {
  it('computes CRC-32C and its masked form as TensorFlow does', () => {
    // CRC-32C check value of "123456789" (RFC 3720), and a record header of a real file.
    assert.equal(maskedCrc32c(Buffer.from('')), 0xa282ead8);
    const real = readFileSync(STRICT);
    assert.equal(real.readUInt32LE(8), maskedCrc32c(real.subarray(0, 8)));
  });

  it('round-trips records and stops at a cut or damaged one with a note', () => {
    const buf = writeTfRecords([Buffer.from('one'), Buffer.from('two'), Buffer.from('three')]);
    assert.deepEqual(
      readTfRecords(buf).records.map((r) => Buffer.from(r).toString()),
      ['one', 'two', 'three'],
    );
    const cut = readTfRecords(buf.subarray(0, buf.length - 3));
    assert.equal(cut.records.length, 2);
    assert.match(cut.problem!, /cut short/);
    const bad = Buffer.from(buf);
    bad[12 + 3 + 4 + 12] ^= 0xff; // first data byte of the second record
    const damaged = readTfRecords(bad);
    assert.equal(damaged.records.length, 1);
    assert.match(damaged.problem!, /data's CRC does not match/);
  });
});

describe('TensorBoard event files', () => {
  it("reads a real tensorboardX / PyTorch SummaryWriter file's simple_value scalars", () => {
    const read = decodeEvents(STRICT, readFileSync(STRICT));
    assert.equal(read.problem, undefined);
    assert.equal(read.scalars.length, 100);
    assert.deepEqual([...new Set(read.scalars.map((s) => s.tag))], ['strict/foo']);
    assert.deepEqual(
      read.scalars.slice(0, 3).map((s) => s.step),
      [0, 5, 10],
    );
    assert.equal(read.scalars[0].value, Math.fround(1.4962565898895264));
    assert.ok(Math.abs(read.scalars[0].wallTime - 1622543341.758558) < 1e-6);
    const lax = decodeEvents(LAX, readFileSync(LAX));
    assert.deepEqual([...new Set(lax.scalars.map((s) => s.tag))].sort(), ['lax/bar_1', 'lax/bar_2', 'lax/foo']);
  });

  it("reads TF2 tensor scalars (float_val, tensor_content) and takes the plugin from a tag's first value", () => {
    const meta = { plugin_data: { plugin_name: 'scalars' } };
    const buf = eventFile([
      {
        wall_time: 1700000001,
        step: 1,
        summary: { value: [{ tag: 'train/loss', metadata: meta, tensor: { dtype: 1, float_val: [2.5] } }] },
      },
      {
        wall_time: 1700000002,
        step: 2,
        summary: { value: [{ tag: 'train/loss', tensor: { dtype: 1, tensor_content: f32(2.0) } }] },
      },
      {
        wall_time: 1700000003,
        step: 3,
        summary: { value: [{ tag: 'train/loss', tensor: { dtype: 2, double_val: [1.5] } }] },
      },
      // A text summary's tensor is not a scalar, nor is a vector under the scalars plugin.
      {
        wall_time: 1700000003,
        step: 3,
        summary: {
          value: [{ tag: 'notes', metadata: { plugin_data: { plugin_name: 'text' } }, tensor: { dtype: 7 } }],
        },
      },
      {
        wall_time: 1700000004,
        step: 4,
        summary: {
          value: [{ tag: 'train/loss', tensor: { dtype: 1, tensor_shape: { dim: [{ size: 2 }] }, float_val: [1, 2] } }],
        },
      },
    ]);
    const read = decodeEvents('gen', buf);
    assert.equal(read.problem, undefined);
    assert.deepEqual(
      read.scalars.map((s) => [s.step, s.value]),
      [
        [1, 2.5],
        [2, 2],
        [3, 1.5],
      ],
    );
  });

  it('a truncated file (a writer mid-record) or an undecodable event ends the read with a note, not a crash', () => {
    const ok = { wall_time: 1700000001, step: 1, summary: { value: [{ tag: 'loss', simple_value: 3 }] } };
    const buf = eventFile([ok, { ...ok, step: 2 }]);
    const cut = decodeEvents('/x/events.out.tfevents.1.h', buf.subarray(0, buf.length - 5));
    assert.deepEqual(
      cut.scalars.map((s) => s.step),
      [1],
    );
    assert.match(cut.problem!, /^events\.out\.tfevents\.1\.h: record at byte \d+ is cut short/);
    const garbage = writeTfRecords([Buffer.from([0x0a, 0xff, 0xff, 0xff])]);
    const undecodable = decodeEvents('g', garbage);
    assert.deepEqual(undecodable.scalars, []);
    assert.match(undecodable.problem!, /event 1 does not decode/);
  });
});

describe('Hugging Face Trainer output folders', () => {
  it('reads a TRL SFTTrainer state: loss, learning rate, grad norm, evaluations; the pickle is named, not loaded', async () => {
    const dir = copyFinished(path.join(FIXTURES, 'tinyllama-sft'), path.join(tempDir(), 'results'));
    const run = await readExternalRun(dir);
    assert.equal(run.kind, 'trainer');
    assert.equal(run.status.source, 'TRL');
    assert.equal(run.metrics.length, 186);
    assert.deepEqual(run.metrics[0], {
      step: 15,
      epoch: 0.010690423162583519,
      loss: 2.0762,
      lr: 2.456140350877193e-6,
      gradNorm: 1.0048305988311768,
    });
    assert.equal(run.evals.length, 14);
    assert.equal(run.evals.at(-1)!.values.loss, 1.1219322681427002);
    assert.equal(run.status.step, 2800);
    assert.equal(run.status.totalSteps, 2808);
    // Stopped short of max_steps and no longer written.
    assert.equal(run.status.state, 'interrupted');
    assert.deepEqual((run.hyperparameters['adapter_config.json'] as { r: number }).r, 8);
    assert.equal((run.hyperparameters.trainer_state as { logging_steps: number }).logging_steps, 15);
    assert.ok(run.notes.some((n) => /training_args\.bin: a Python pickle, which is never loaded/.test(n)));
  });

  it("reads a Seq2SeqTrainer run to its end: eval_wer, the summary's train_loss", async () => {
    const dir = copyFinished(path.join(FIXTURES, 'whisper-small-hi'), path.join(tempDir(), 'whisper-small-hi'));
    const run = await readExternalRun(dir);
    assert.equal(run.status.source, 'HF Trainer');
    assert.equal(run.status.state, 'done');
    assert.equal(run.metrics.length, 200);
    assert.equal(run.evals.length, 5);
    assert.ok(run.evals.every((e) => typeof e.values.wer === 'number'));
    assert.equal(run.status.finalLoss, 0.06323314253110439);
    assert.ok(
      run.metrics.every((m) => m.elapsed === undefined),
      'trainer_state.json records no times',
    );
  });

  it("recognises LLaMA-Factory by its training_args.yaml and axolotl by its config's base_model", async () => {
    const lf = await readExternalRun(
      copyFinished(path.join(FIXTURES, 'llamafactory-qwen3-lora'), path.join(tempDir(), 'train_2025-04-29')),
    );
    assert.equal(lf.status.source, 'LLaMA-Factory');
    assert.equal(lf.status.state, 'done');
    assert.equal(lf.status.finalLoss, 0.9732094605763754);
    assert.equal((lf.hyperparameters['training_args.yaml'] as { learning_rate: number }).learning_rate, 5e-5);
    // A folder whose checkpoints hold the Trainer state; the config is axolotl's.
    const ax = path.join(tempDir(), 'lora-out');
    mkdirSync(path.join(ax, 'checkpoint-200'), { recursive: true });
    mkdirSync(path.join(ax, 'checkpoint-400'), { recursive: true });
    cpSync(path.join(FIXTURES, 'axolotl/lora-1b.yml'), path.join(ax, 'lora-1b.yml'));
    cpSync(path.join(FIXTURES, 'tinyllama-sft/trainer_state.json'), path.join(ax, 'checkpoint-400/trainer_state.json'));
    const run = await readExternalRun(copyFinished(ax, path.join(tempDir(), 'lora-out')));
    assert.equal(run.status.source, 'axolotl');
    assert.deepEqual(
      run.checkpoints.map((c) => c.step),
      [200, 400],
    );
    assert.equal(run.status.lastCheckpoint, 'checkpoint-400');
    assert.equal((run.hyperparameters['lora-1b.yml'] as { lora_r: number }).lora_r, 16);
  });

  it("follows LLaMA-Factory's trainer_log.jsonl before any checkpoint exists", async () => {
    const dir = path.join(tempDir(), 'train_2025-04-29');
    mkdirSync(dir);
    cpSync(path.join(FIXTURES, 'llamafactory-qwen3-lora/training_args.yaml'), path.join(dir, 'training_args.yaml'));
    // Lines as LLaMA-Factory's LogCallback writes them, the last one still being written.
    const line = (s: number) =>
      JSON.stringify({
        current_steps: s,
        total_steps: 768,
        loss: 2 - s / 100,
        lr: 5e-5,
        epoch: s / 256,
        percentage: (100 * s) / 768,
        elapsed_time: `0:0${s / 10}:00`,
        remaining_time: '1:30:00',
        throughput: 4000 + s,
      });
    writeFileSync(path.join(dir, 'trainer_log.jsonl'), [line(10), line(20), '{"current_steps": 3'].join('\n'));
    const run = (await listExternalRuns(path.dirname(dir)))[0];
    assert.equal(run.status.source, 'LLaMA-Factory');
    assert.equal(run.status.state, 'running');
    assert.equal(run.status.step, 20);
    assert.equal(run.status.totalSteps, 768);
    assert.deepEqual(
      run.metrics.map((m) => [m.step, m.loss, m.elapsed, m.tokensPerSecond]),
      [
        [10, 1.9, 60, 4010],
        [20, 1.8, 120, 4020],
      ],
    );
    // The real one's last line: the end of a run whose logging_steps exceeded its steps (no loss on it).
    const real = await readExternalRun(
      copyFinished(path.join(FIXTURES, 'llamafactory-qwen3-lora'), path.join(tempDir(), 'lf')),
    );
    assert.deepEqual([real.status.step, real.status.totalSteps, real.metrics.length], [768, 768, 0]);
  });

  it("parses Python's NaN and Infinity in a diverged run's state, and names a file that is not a state", async () => {
    assert.deepEqual(
      parsePythonJson('{"log_history": [{"loss": NaN, "step": 1, "grad_norm": Infinity, "note": "NaN, here"}]}'),
      { log_history: [{ loss: NaN, step: 1, grad_norm: Infinity, note: 'NaN, here' }] },
    );
    const dir = tempDir();
    writeFileSync(path.join(dir, 'trainer_state.json'), '{"global_step": 3}');
    await assert.rejects(
      readTrainerState(path.join(dir, 'trainer_state.json')),
      new RegExp(`${dir.replace(/[/\\]/g, '.')}.trainer_state\\.json: not a Trainer state`),
    );
  });

  it('a folder still being written reads as running', async () => {
    const dir = path.join(tempDir(), 'out');
    cpSync(path.join(FIXTURES, 'tinyllama-sft'), dir, { recursive: true });
    assert.equal((await readExternalRun(dir)).status.state, 'running');
  });
});

describe('discovery of external runs in a workspace', () => {
  it('finds Trainer outputs and TensorBoard folders, once each, and skips the project runs and node_modules', async () => {
    const root = tempDir();
    copyFinished(path.join(FIXTURES, 'whisper-small-hi'), path.join(root, 'outputs/whisper'));
    // The Trainer's TensorBoard logs inside its output folder belong to that run.
    mkdirSync(path.join(root, 'outputs/whisper/runs/Dec15_07-29-26_ficino'), { recursive: true });
    cpSync(STRICT, path.join(root, 'outputs/whisper/runs/Dec15_07-29-26_ficino/events.out.tfevents.1.h.0'));
    mkdirSync(path.join(root, 'logs/run_1'), { recursive: true });
    cpSync(STRICT, path.join(root, 'logs/run_1', path.basename(STRICT)));
    mkdirSync(path.join(root, 'node_modules/x'), { recursive: true });
    cpSync(STRICT, path.join(root, 'node_modules/x', path.basename(STRICT)));
    mkdirSync(path.join(root, '.taia/runs/r1/checkpoints/checkpoint-1'), { recursive: true });
    writeFileSync(path.join(root, '.taia/runs/r1/checkpoints/checkpoint-1/trainer_state.json'), '{"log_history": []}');
    const found = await discoverExternalRuns(root);
    assert.deepEqual(found.map((f) => [path.relative(root, f.dir), f.kind]).sort(), [
      ['logs/run_1', 'tensorboard'],
      ['outputs/whisper', 'trainer'],
    ]);
    const runs = await listExternalRuns(root);
    const tb = runs.find((r) => r.kind === 'tensorboard')!;
    assert.equal(tb.status.id, 'logs/run_1');
    assert.equal(tb.status.source, 'TensorBoard');
    assert.equal(tb.status.step, 495);
    assert.deepEqual(tb.metrics, []);
    assert.match(tb.notes.join('\n'), /no loss scalar .*tags: strict\/foo/);
    // The dashboard and the comparison read both kinds through one function.
    const data = await readRunData(path.join(root, 'outputs/whisper'), root);
    assert.equal(data.status.id, 'outputs/whisper');
    assert.equal(data.metrics.length, 200);
    assert.equal(data.config, undefined);
  });

  it('turns Trainer TensorBoard tags into loss, learning rate and evaluations with times', async () => {
    const dir = path.join(tempDir(), 'tb');
    mkdirSync(dir);
    const v = (tag: string, simple_value: number) => ({ tag, simple_value });
    writeFileSync(
      path.join(dir, 'events.out.tfevents.1700000000.host.1.0'),
      eventFile([
        {
          wall_time: 1700000010,
          step: 10,
          summary: { value: [v('train/loss', 2), v('train/learning_rate', 1e-4), v('train/epoch', 0.5)] },
        },
        {
          wall_time: 1700000020,
          step: 20,
          summary: { value: [v('train/loss', 1.5), v('train/learning_rate', 5e-5), v('train/epoch', 1)] },
        },
        { wall_time: 1700000021, step: 20, summary: { value: [v('eval/loss', 1.7), v('eval/accuracy', 0.6)] } },
      ]),
    );
    const run = await readExternalRun(dir);
    assert.deepEqual(
      run.metrics.map((m) => [m.step, m.loss, m.lr, m.epoch, m.elapsed]),
      [
        [10, 2, Math.fround(1e-4), 0.5, 0],
        [20, 1.5, Math.fround(5e-5), 1, 10],
      ],
    );
    assert.deepEqual(run.evals, [{ step: 20, values: { loss: Math.fround(1.7), accuracy: Math.fround(0.6) } }]);
    assert.equal(run.status.startedAt, new Date(1700000010_000).toISOString());
  });
});
