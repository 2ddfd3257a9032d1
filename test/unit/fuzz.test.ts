// A fixed-seed sample of the fuzz campaign (test/fuzz/): hostile checkpoint folders through the CLI's
// main in-process, and a few through the bundled CLI as a child process. `npm run fuzz` runs the full one.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { campaign, failures, InProcess, Spawned, table } from '../fuzz/run';
import { inputsCampaign } from '../fuzz/inputs';

test('fuzz sample: 300 hostile cases, no crash, hang, wrong acceptance, leftovers or modified input', async () => {
  const exec = new InProcess();
  try {
    const outcomes = await campaign({ cases: 300, seed: 42, exec, timeoutMs: 30_000 });
    const bad = failures(outcomes);
    assert.deepEqual(
      bad.map((o) => `${o.kind} ${o.family} [${o.variant}] ${o.cmd}: ${o.detail}`),
      [],
      table(outcomes),
    );
    // The sample exercises both sides: refusals and accepted (and verified) merges.
    assert.ok(
      outcomes.some((o) => o.kind === 'refused') && outcomes.some((o) => o.kind === 'accepted' && o.cmd === 'merge'),
    );
  } finally {
    await exec.close();
  }
});

test('fuzz sample through the bundled CLI as a child process', async () => {
  const outcomes = await campaign({
    cases: 12,
    seed: 7,
    exec: new Spawned(),
    timeoutMs: 60_000,
    families: ['valid', 'special-file', 'deep-nesting', 'float-token', 'redos', 'symlink-outside'],
  });
  assert.deepEqual(
    failures(outcomes).map((o) => `${o.kind} ${o.family} [${o.variant}] ${o.cmd}: ${o.detail}`),
    [],
    table(outcomes),
  );
});

test('fuzz sample: hostile result files and datasets are read or refused cleanly, without hang or crash', async () => {
  const exec = new InProcess();
  try {
    const outcomes = await inputsCampaign({ cases: 40, seed: 42, exec, timeoutMs: 60_000 });
    assert.deepEqual(
      failures(outcomes).map((o) => `${o.kind} ${o.family} [${o.variant}] ${o.cmd}: ${o.detail}`),
      [],
      table(outcomes),
    );
  } finally {
    await exec.close();
  }
});
