// The PyTorch engine's Python processes (training and evaluation) and the JSON-lines protocol they
// speak: messages arrive on fd 3 (stdout and stderr stay free for libraries and go to trainer.out),
// requests go to stdin.
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';

/** Version of the protocol between this process and the Python scripts in dist/torch/. */
export const ENGINE_PROTOCOL = 2;

export type EngineMessage = { v: number; type: string; [key: string]: unknown };

/** The interpreter: TAIA_PYTHON (set by the extension from its setting or the Python extension, or by the user), else python3. */
export function pythonInterpreter(): string {
  return process.env.TAIA_PYTHON || 'python3';
}

export function torchScript(name: 'taia_torch_trainer.py' | 'taia_torch_eval.py'): string {
  return path.join(__dirname, 'torch', name);
}

export interface PythonProcess {
  /** Writes one request line to the script's stdin (ignored once it has exited). */
  send(request: object): void;
  /** Closes stdin, which ends the script's request loop. */
  end(): void;
  /**
   * Resolves once the process has exited and its messages were handled; rejects with the error it
   * reported (an environment problem, an out-of-memory), a protocol fault, or an interpreter that
   * cannot run.
   */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Starts `python args…`. The script's environment report is logged; its `error` message becomes the
 * rejection of `exited`; every other message goes to `onMessage`, in order. A message that fails to
 * handle kills the process.
 */
export function startPython(
  args: string[],
  onMessage: (m: EngineMessage) => Promise<void> | void,
  log: (text: string) => void,
  launcher?: string[],
): PythonProcess {
  // A launcher (srun + torch.distributed.run in a Slurm job) brings the interpreter itself; fd 3 does not
  // cross srun, so messages come on stdout then, marked by the protocol's shape, beside the libraries' lines.
  const [python, ...prefix] = launcher ?? [pythonInterpreter()];
  log(`${[python, ...prefix, ...args].join(' ')}`);
  const viaStdout = launcher !== undefined;
  const child = spawn(python, [...prefix, ...args], {
    stdio: ['pipe', viaStdout ? 'pipe' : 'inherit', 'inherit', viaStdout ? 'ignore' : 'pipe'],
    env: {
      ...process.env,
      PYTHONUNBUFFERED: '1',
      PYTHONDONTWRITEBYTECODE: '1',
      ...(viaStdout ? { TAIA_ENGINE_CHANNEL: 'stdout' } : {}),
    },
  });
  child.stdin?.on('error', () => undefined); // EPIPE after the script exits; its exit is reported below.
  let failure: string | undefined;
  let work = Promise.resolve();
  const handle = async (m: EngineMessage): Promise<void> => {
    if (m.v !== ENGINE_PROTOCOL)
      throw new Error(
        `${path.basename(args[0])} speaks engine protocol ${String(m.v)}, this trainer ${ENGINE_PROTOCOL} (they come from different builds)`,
      );
    if (m.type === 'env') log(describeEnvironment(m));
    else if (m.type === 'error') failure ??= String(m.message);
    else await onMessage(m);
  };
  createInterface({ input: (viaStdout ? child.stdout : child.stdio[3]) as Readable }).on('line', (line) => {
    if (viaStdout && !/^\{"v": ?\d+, ?"type"/.test(line)) return void process.stdout.write(line + '\n');
    work = work
      .then(() => handle(JSON.parse(line) as EngineMessage))
      .catch((e: Error) => {
        failure ??= e.message;
        child.kill();
      });
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.on('error', (e) =>
      reject(
        new Error(
          `cannot run the Python interpreter '${python}' (${e.message}); set taiaLab.python.interpreter or TAIA_PYTHON`,
        ),
      ),
    );
    child.on('close', (code, signal) => {
      void work.then(() => (failure ? reject(new Error(failure)) : resolve({ code, signal })));
    });
  });
  return {
    send: (request) => child.stdin?.writable && child.stdin.write(JSON.stringify(request) + '\n'),
    end: () => child.stdin?.end(),
    exited,
  };
}

function describeEnvironment(m: EngineMessage): string {
  const modules = Object.entries(m.modules as Record<string, string | null>)
    .map(([k, v]) => `${k} ${v ?? 'missing'}`)
    .join(', ');
  const gpus = (m.gpus as { name: string }[]).map((g) => g.name).join(', ');
  return `python ${String(m.python)} (${String(m.executable)}): ${modules}; CUDA ${m.cuda ? `yes: ${gpus}` : 'no'}`;
}
