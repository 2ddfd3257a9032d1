import { availableParallelism } from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { BLOCKS } from '../core/classify/types';
import { diffCheckpoints } from '../core/delta/diff';
import { diffToMarkdown } from '../core/delta/markdown';
import { formatBytes } from '../core/util/size';
import { ProgressLine } from './progress';
import { withCancellation } from './signals';
import { Command, UsageError } from './usage';

export const diffCommand: Command = {
  name: 'diff',
  summary: 'what a fine-tune changed, tensor by tensor: norms, relative change, cosine, NaN/Inf, spectrum',
  usage: `taia diff --base DIR --finetuned DIR [--merged DIR] [--json | --markdown] [--spectrum K] [--threads N] [--quiet]

  --finetuned   a full fine-tuned model or a PEFT LoRA adapter (its folded delta is compared)
  --merged DIR  three-way form: also check a merged output against both, and against the recipe in
                its taia_merge.json (e.g. that a TAIA merge reverted exactly the FFN)
  --spectrum K  top K singular values of each 2-D delta (a second streamed pass; the method is printed)
  --threads N   worker threads computing statistics (default: the number of cores)
  --json        the full report (format: README, "taia diff --json"); --markdown a summary for a PR`,
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: {
        base: { type: 'string' },
        finetuned: { type: 'string' },
        merged: { type: 'string' },
        spectrum: { type: 'string' },
        json: { type: 'boolean' },
        markdown: { type: 'boolean' },
        quiet: { type: 'boolean' },
        threads: { type: 'string' },
      },
    });
    for (const k of ['base', 'finetuned'] as const) if (!values[k]) throw new UsageError(`--${k} is required`);
    if (values.json && values.markdown) throw new UsageError('choose one of --json and --markdown');
    const spectrum = values.spectrum === undefined ? 0 : Number(values.spectrum);
    if (!Number.isInteger(spectrum) || spectrum < 0 || spectrum > 64)
      throw new UsageError(`--spectrum must be an integer from 1 to 64, got '${values.spectrum}'`);
    const threads = values.threads === undefined ? availableParallelism() : Number(values.threads);
    if (!Number.isInteger(threads) || threads < 1)
      throw new UsageError(`--threads must be a positive integer, got '${values.threads}'`);
    // The part workers are a bundle beside this one (dist/diff-part-worker.js).
    const parallel = { workers: threads, script: path.join(__dirname, 'diff-part-worker.js') };
    const bar = new ProgressLine('diffing', values.quiet);
    const report = await withCancellation((signal) =>
      diffCheckpoints({
        base: values.base!,
        finetuned: values.finetuned!,
        merged: values.merged,
        spectrum,
        signal,
        parallel,
        onProgress: (p) => bar.update(p.bytesDone, p.bytesTotal, p.tensor),
      }),
    ).finally(() => bar.done());
    if (values.json) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
    else if (values.markdown) process.stdout.write(diffToMarkdown(report));
    else {
      const rows = BLOCKS.filter((b) => report.blocks[b].tensors > 0).map((b) => {
        const t = report.blocks[b];
        return `${b.padEnd(10)} ${String(t.tensors).padStart(6)} tensors  ${String(t.changedTensors).padStart(6)} changed  ‖Δ‖/‖W‖ ${(t.relative * 100).toFixed(3).padStart(9)}%`;
      });
      const bad = report.tensors.filter(
        (t) => t.nonFinite.base.nan + t.nonFinite.base.inf + t.nonFinite.finetuned.nan + t.nonFinite.finetuned.inf > 0,
      );
      process.stdout.write(
        [
          ...rows,
          ...(bad.length
            ? [
                `WARNING: ${bad.length} tensor(s) hold NaN or Inf: ${bad
                  .slice(0, 5)
                  .map((t) => t.name)
                  .join(', ')}`,
              ]
            : []),
          ...(report.threeWay
            ? [
                report.threeWay.verdict,
                ...report.threeWay.violations
                  .slice(0, 10)
                  .map((v) => `  ${v.name}: expected ${v.expected}, equals ${v.actual}`),
              ]
            : []),
          `${report.tensors.length} tensors, ${formatBytes(report.bytesRead)} read in ${report.seconds.toFixed(2)} s (--markdown for a summary, --json for everything)`,
          '',
        ].join('\n'),
      );
    }
    return report.threeWay?.failed ? 3 : 0;
  },
};
