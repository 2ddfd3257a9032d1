// `npm run fuzz [-- --cases N --seed S --spawn --timeout MS]`: the full campaign; prints the table and
// the first failures, and exits 1 when any guarantee was broken.
import { parseArgs } from 'node:util';
import { campaign, failures, InProcess, Outcome, Spawned, table } from './run';
import { inputsCampaign } from './inputs';

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      inputs: { type: 'string', default: '200' },
      cases: { type: 'string', default: '10000' },
      seed: { type: 'string', default: '1' },
      spawn: { type: 'boolean' },
      timeout: { type: 'string', default: '30000' },
    },
  });
  const cases = Number(values.cases);
  const started = Date.now();
  const exec = values.spawn ? new Spawned() : new InProcess();
  try {
    const outcomes = await campaign({
      cases,
      seed: Number(values.seed),
      exec,
      timeoutMs: Number(values.timeout),
      onOutcome: (_, i) => {
        if ((i + 1) % 500 === 0)
          process.stderr.write(`${i + 1}/${cases} cases, ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
      },
    });
    process.stdout.write(
      `${cases} checkpoint cases (seed ${values.seed}, ${values.spawn ? 'spawned CLI' : 'CLI main in a worker thread'}), ${((Date.now() - started) / 1000).toFixed(0)} s\n\n${table(outcomes)}\n`,
    );
    let inputs: Outcome[] = [];
    if (Number(values.inputs) > 0) {
      const exec2 = new InProcess();
      try {
        const t0 = Date.now();
        inputs = await inputsCampaign({
          cases: Number(values.inputs),
          seed: Number(values.seed),
          exec: exec2,
          timeoutMs: Number(values.timeout),
        });
        process.stdout.write(
          `\n${values.inputs} result-file and dataset cases (seed ${values.seed}, in a worker thread), ${((Date.now() - t0) / 1000).toFixed(0)} s\n\n${table(inputs)}\n`,
        );
      } finally {
        await exec2.close();
      }
    }
    const bad = failures([...outcomes, ...inputs]);
    for (const o of bad.slice(0, 20))
      process.stdout.write(
        `\n${o.kind} ${o.family} [${o.variant}] ${o.cmd}: ${o.detail}${o.leftovers.length ? ` leftovers ${o.leftovers.join(', ')}` : ''}${o.inputsModified ? ' inputs modified' : ''}`,
      );
    process.stdout.write(
      bad.length ? `\n\n${bad.length} case(s) broke a guarantee\n` : '\nno case broke a guarantee\n',
    );
    return bad.length ? 1 : 0;
  } finally {
    await exec.close();
  }
}

void main().then((code) => (process.exitCode = code));
