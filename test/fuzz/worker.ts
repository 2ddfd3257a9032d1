// Runs `taia` command lines in-process (the CLI's runCli), one at a time, capturing its output: the
// fixed-seed sample in `npm test` avoids starting node per case. A hang is caught by the parent,
// which terminates this thread.
import { parentPort } from 'node:worker_threads';
import { runCli } from '../../src/cli/main';

let out = '';
let err = '';
process.stdout.write = ((chunk: string | Uint8Array) => ((out += String(chunk)), true)) as typeof process.stdout.write;
process.stderr.write = ((chunk: string | Uint8Array) => ((err += String(chunk)), true)) as typeof process.stderr.write;

parentPort!.on('message', async (argv: string[]) => {
  out = '';
  err = '';
  let code: number;
  try {
    code = await runCli(argv);
  } catch (e) {
    code = 70;
    err += String((e as Error).stack);
  }
  parentPort!.postMessage({ code, stdout: out, stderr: err });
});
