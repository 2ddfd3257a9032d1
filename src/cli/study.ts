import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { ExperimentError } from '../core/experiment/load';
import { writtenVariant } from '../core/merge/virtual';
import { loadResults } from '../core/results/load';
import { loadStudy } from '../core/study/load';
import { runStudy, StudyEvaluator, studyOutputDir, VariantOutcome } from '../core/study/run';
import { SlurmError } from '../core/slurm/commands';
import { evaluateAsSlurmJob } from '../core/slurm/evaluate';
import type { Study } from '../core/study/load';
import { EvaluationFailed, evaluateWithProgress } from './eval';
import { cliLaunch, POLL_MS } from './slurm';
import { Command, UsageError } from './usage';

export const studyCommand: Command = {
  name: 'study',
  summary: 'evaluate every variant of a study file (*.taia-study.yaml), reusing cached results',
  usage:
    'taia study FILE.taia-study.yaml [--out DIR] [--quiet]\n\n' +
    '  Evaluates each variant (recipes, grids of layers and scale, per-layer scans) of base and fine-tune\n' +
    '  without writing it (built-in engine), into .taia/results/studies/<name>/ beside the file (or --out).\n' +
    '  A variant whose inputs, plan and task files are unchanged since it was evaluated is not evaluated again,\n' +
    '  so adding a variant evaluates only that one and an interrupted study resumes. With `launcher: slurm` each\n' +
    '  variant is a Slurm job (the `slurm` section), all queued at once; Ctrl-C cancels them.',
  async run(argv) {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { out: { type: 'string' }, quiet: { type: 'boolean', short: 'q' } },
    });
    if (positionals.length !== 1) throw new UsageError('expected one study file');
    const quiet = values.quiet === true;
    let study;
    try {
      study = await loadStudy(path.resolve(positionals[0]));
    } catch (e) {
      if (!(e instanceof ExperimentError)) throw e;
      process.stderr.write(`${e.message}\n`);
      return 2;
    }
    const outDir = values.out ? path.resolve(values.out) : studyOutputDir(study);
    let cancelled = false;
    const onSignal = () => (cancelled = true);
    process.on('SIGINT', onSignal);
    const say = (line: string) => quiet || process.stderr.write(`${line}\n`);
    say(
      `study ${study.config.name}: ${study.variants.length} variants of ${study.finetuned} on ${study.config.eval.command ? 'the evaluation command' : `${study.config.eval.tasks.length} task file(s)`}`,
    );
    let outcomes: VariantOutcome[];
    let ended = 0;
    try {
      outcomes = await runStudy(
        study,
        terminalEvaluator(study, quiet, () => cancelled),
        // Counted as they end: a Slurm study's jobs end in any order.
        (o, _i, n) =>
          say(
            `[${++ended}/${n}] ${o.name}: ${o.state}${o.state === 'evaluated' ? ` in ${o.seconds.toFixed(1)} s` : ''}`,
          ),
        outDir,
      );
    } catch (e) {
      if (!(e instanceof EvaluationFailed) && !(e instanceof SlurmError)) throw e;
      process.stderr.write(`taia: study stopped: an evaluation failed: ${e.message}\n`);
      return 1;
    } finally {
      process.off('SIGINT', onSignal);
    }
    if (outcomes.some((o) => o.state === 'cancelled')) {
      process.stderr.write('taia: study cancelled; evaluated variants are kept and a re-run resumes\n');
      return 130;
    }
    if (!study.config.eval.command) process.stdout.write(await summary(outcomes));
    process.stdout.write(`results: ${outDir}\n`);
    return 0;
  },
};

function terminalEvaluator(study: Study, quiet: boolean, cancelled: () => boolean): StudyEvaluator {
  const say = (m: string) => quiet || process.stderr.write(`${m}\n`);
  return {
    evaluate: async (job) => {
      if (study.config.launcher !== 'slurm') return evaluateWithProgress(job, quiet, job.name);
      const ended = await evaluateAsSlurmJob(job, study.config.slurm, cliLaunch(), {
        pollMs: POLL_MS,
        submitted: (s) => say(`${job.name}: submitted Slurm job ${s.jobId} (output: ${s.output})`),
        state: (line) => say(`${job.name}: ${line}`),
        cancelled,
      });
      if (ended.state === 'failed') throw new EvaluationFailed(`${job.name}: ${ended.error}`);
      return ended.state === 'done' ? ended.results : undefined;
    },
    write: (spec) => writtenVariant(spec),
    cancelled,
    log: (m) => quiet || process.stderr.write(`${m}\n`),
    external: (line, cwd) =>
      new Promise((resolve, reject) => {
        const child = spawn(line, { shell: true, cwd, detached: true, stdio: ['ignore', 'inherit', 'inherit'] });
        const stop = () => child.pid && process.kill(-child.pid, 'SIGTERM');
        process.on('SIGINT', stop);
        child.on('error', (e) => reject(new EvaluationFailed(`the evaluation command could not start: ${e.message}`)));
        child.on('close', (code, signal) => {
          process.off('SIGINT', stop);
          if (code === 0) resolve(true);
          else if (cancelled()) resolve(false);
          else
            reject(
              new EvaluationFailed(
                `the evaluation command ${signal ? `stopped on ${signal}` : `exited with code ${code}`}`,
              ),
            );
        });
      }),
  };
}

/** Variants × tasks, the first metric of each task, as a plain table. */
async function summary(outcomes: VariantOutcome[]): Promise<string> {
  const rows = await Promise.all(
    outcomes.map(async (o) => ({ name: o.name, model: (await loadResults(o.results))[0] })),
  );
  const tasks = [...new Set(rows.flatMap((r) => [...r.model.tasks.keys()]))];
  const cell = (r: (typeof rows)[number], task: string) => {
    const first = [...(r.model.tasks.get(task)?.metrics ?? new Map()).entries()][0];
    return first ? `${first[0]} ${(first[1].value * (first[1].scale === 'percent' ? 1 : 100)).toFixed(1)}` : '—';
  };
  const table = [['variant', ...tasks], ...rows.map((r) => [r.name, ...tasks.map((t) => cell(r, t))])];
  const widths = table[0].map((_, c) => Math.max(...table.map((row) => row[c].length)));
  return table.map((row) => row.map((v, c) => v.padEnd(widths[c])).join('  ')).join('\n') + '\n';
}
