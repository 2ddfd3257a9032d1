import { benchCommand } from '../../src/cli/bench';

/** Runs `taia bench ARGS` in-process, capturing what it writes to stdout and stderr. */
export async function bench(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const [o, e] = [process.stdout.write, process.stderr.write];
  process.stdout.write = ((s: string) => ((out += s), true)) as typeof process.stdout.write;
  process.stderr.write = ((s: string) => ((err += s), true)) as typeof process.stderr.write;
  try {
    return { code: await benchCommand.run(args), out, err };
  } finally {
    process.stdout.write = o;
    process.stderr.write = e;
  }
}
