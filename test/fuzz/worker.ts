// Runs `taia` command lines in-process (the CLI's runCli), one at a time, capturing its output: the
// fixed-seed sample in `npm test` avoids starting node per case. A hang is caught by the parent,
// which terminates this thread.
import { parentPort } from 'node:worker_threads';
import { runCli } from '../../src/cli/main';
import { DatasetError } from '../../src/core/datasets/error';
import { readDatasetRows } from '../../src/core/datasets/rows';

let out = '';
let err = '';
process.stdout.write = ((chunk: string | Uint8Array) => ((out += String(chunk)), true)) as typeof process.stdout.write;
process.stderr.write = ((chunk: string | Uint8Array) => ((err += String(chunk)), true)) as typeof process.stderr.write;

/** The dataset reader as the trainer calls it; its own errors are the clean refusals. */
async function readDataset(file: string): Promise<number> {
  try {
    await readDatasetRows(file, { limit: Number.MAX_SAFE_INTEGER });
    return 0;
  } catch (e) {
    if (!(e instanceof DatasetError)) throw e;
    err += `taia: error: ${e.message}\n`;
    return 1;
  }
}

parentPort!.on('message', async (job: string[] | { dataset: string }) => {
  out = '';
  err = '';
  let code: number;
  try {
    code = Array.isArray(job) ? await runCli(job) : await readDataset(job.dataset);
  } catch (e) {
    code = 70;
    err += String((e as Error).stack);
  }
  parentPort!.postMessage({ code, stdout: out, stderr: err });
});
