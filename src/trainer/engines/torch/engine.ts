import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { listCheckpoints } from '../../../core/runs/store';
import type { RunConfig } from '../../../core/runs/types';
import { loadExamples } from '../../data/examples';
import { ChatTokenizer } from '../../data/tokenizer';
import type { EngineHooks, EngineResult } from '../types';

/** Version of the JSON-lines protocol between this process and taia_torch_trainer.py. */
const ENGINE_PROTOCOL = 1;
export const TOKENS_FILE = 'data.tokens.jsonl';

/** The interpreter: TAIA_PYTHON (set by the extension from its setting or the Python extension, or by the user), else python3. */
export function pythonInterpreter(): string {
  return process.env.TAIA_PYTHON || 'python3';
}

export function torchScript(): string {
  return path.join(__dirname, 'torch', 'taia_torch_trainer.py');
}

type EngineMessage = { v: number; type: string; [key: string]: unknown };

/**
 * Trains with the PyTorch engine: the dataset is tokenized here with the same pipeline and chat template
 * as the built-in engine, then taia_torch_trainer.py (transformers + PEFT) trains on it, under
 * torch.distributed.run when `workers` asks for several GPUs. Its environment check comes first, so a
 * missing package or CUDA is reported before any work, with what to install.
 */
export async function trainWithTorch(runDir: string, config: RunConfig, resume: boolean, hooks: EngineHooks): Promise<EngineResult> {
  const tok = await ChatTokenizer.load(config.base);
  const { examples, skipped } = await loadExamples(config.dataset, tok, config.train.train_on, config.train.max_seq_length + 1);
  if (skipped) hooks.log(`warning: ${skipped} examples have no response token within max_seq_length and are skipped`);
  const tokens = path.join(runDir, TOKENS_FILE);
  await writeFile(tokens, examples.map((e) => JSON.stringify({ ids: Array.from(e.ids), train: Array.from(e.train).join('') })).join('\n') + '\n');
  const latest = resume ? (await listCheckpoints(runDir)).at(-1) : undefined;
  if (resume && !latest) throw new Error(`${runDir}: nothing to resume from (no checkpoints/checkpoint-N folder)`);

  const python = pythonInterpreter();
  const script = [torchScript(), '--run-dir', runDir, '--data', tokens, '--pad-id', String(tok.ids.pad), ...(latest ? ['--resume', latest.dir] : [])];
  const args = config.workers > 1 ? ['-m', 'torch.distributed.run', '--standalone', `--nproc_per_node=${config.workers}`, ...script] : script;
  hooks.log(`${python} ${args.join(' ')}`);
  // stdout and stderr go where this process's go (the run's trainer.out); messages arrive on fd 3.
  const child = spawn(python, args, { stdio: ['pipe', 'inherit', 'inherit', 'pipe'], env: { ...process.env, PYTHONUNBUFFERED: '1' } });
  const poll = setInterval(() => hooks.cancelled() && child.stdin?.write(JSON.stringify({ type: 'cancel' }) + '\n'), 200);
  let result: EngineResult | undefined;
  let failure: string | undefined;
  let lastLoss: number | undefined;
  let work = Promise.resolve();
  const handle = async (m: EngineMessage): Promise<void> => {
    if (m.v !== ENGINE_PROTOCOL) throw new Error(`taia_torch_trainer.py speaks engine protocol ${String(m.v)}, this trainer ${ENGINE_PROTOCOL}`);
    switch (m.type) {
      case 'env': {
        const modules = Object.entries(m.modules as Record<string, string | null>).map(([k, v]) => `${k} ${v ?? 'missing'}`).join(', ');
        const gpus = (m.gpus as { name: string }[]).map((g) => g.name).join(', ');
        hooks.log(`python ${String(m.python)} (${String(m.executable)}): ${modules}; CUDA ${m.cuda ? `yes: ${gpus}` : 'no'}`);
        break;
      }
      case 'started':
        await hooks.started({ backend: `torch on ${String(m.device)} (${String(m.dtype)}${Number(m.world) > 1 ? `, ${String(m.world)} processes` : ''})`, totalSteps: Number(m.totalSteps), startStep: Number(m.startStep), parameters: Number(m.parameters), trainableParameters: Number(m.trainableParameters), examples: Number(m.examples) });
        break;
      case 'step':
        lastLoss = Number(m.loss);
        await hooks.step({ step: Number(m.step), totalSteps: Number(m.totalSteps), epoch: Number(m.epoch), loss: lastLoss, lr: Number(m.lr), gradNorm: Number(m.gradNorm), tokensPerSecond: Number(m.tokensPerSecond), gpuMemory: Number(m.gpuMemory) || undefined });
        break;
      case 'checkpoint':
        await hooks.checkpoint(Number(m.step), String(m.path));
        break;
      case 'error':
        failure = String(m.message);
        break;
      case 'done':
        result = { state: m.state === 'done' ? 'done' : 'cancelled', step: Number(m.step), finalLoss: lastLoss, checkpoint: typeof m.checkpoint === 'string' ? m.checkpoint : undefined };
        break;
    }
  };
  createInterface({ input: child.stdio[3] as Readable }).on('line', (line) => {
    work = work.then(() => handle(JSON.parse(line) as EngineMessage)).catch((e: Error) => {
      failure ??= e.message;
      child.kill();
    });
  });
  const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>((resolve) => {
    child.on('error', (error) => resolve({ code: null, signal: null, error }));
    child.on('close', (code, signal) => resolve({ code, signal }));
  });
  clearInterval(poll);
  await work;
  if (exit.error) throw new Error(`cannot run the Python interpreter '${python}' (${exit.error.message}); set taiaLab.python.interpreter or TAIA_PYTHON`);
  if (failure) throw new Error(failure);
  if (!result) throw new Error(`taia_torch_trainer.py exited ${exit.signal ? `on ${exit.signal}` : `with code ${exit.code}`} without finishing (see trainer.out)`);
  return result;
}
