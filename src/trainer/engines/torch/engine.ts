import { writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { listCheckpoints } from '../../../core/runs/store';
import type { RunConfig } from '../../../core/runs/types';
import { loadExamples } from '../../data/examples';
import { ChatTokenizer } from '../../data/tokenizer';
import type { EngineHooks, EngineResult } from '../types';
import { EngineMessage, startPython, torchScript } from './python';

export const TOKENS_FILE = 'data.tokens.jsonl';

/**
 * Trains with the PyTorch engine: the dataset is tokenized here with the same pipeline and chat template
 * as the built-in engine, then taia_torch_trainer.py (transformers + PEFT) trains on it, under
 * torch.distributed.run when `workers` asks for several GPUs. Its environment check comes first, so a
 * missing package or CUDA is reported before any work, with what to install.
 */
export async function trainWithTorch(
  runDir: string,
  config: RunConfig,
  resume: boolean,
  hooks: EngineHooks,
): Promise<EngineResult> {
  const tok = await ChatTokenizer.load(config.base);
  const { examples, skipped } = await loadExamples(
    config.dataset,
    tok,
    config.train.train_on,
    config.train.max_seq_length + 1,
    hooks.log,
  );
  if (skipped) hooks.log(`warning: ${skipped} examples have no response token within max_seq_length and are skipped`);
  const tokens = path.join(runDir, TOKENS_FILE);
  await writeFile(
    tokens,
    examples.map((e) => JSON.stringify({ ids: Array.from(e.ids), train: Array.from(e.train).join('') })).join('\n') +
      '\n',
  );
  const latest = resume ? (await listCheckpoints(runDir)).at(-1) : undefined;
  // Killed during its first save, a run has no complete checkpoint and starts again from step 0 (the trainer says so).

  const script = [
    torchScript('taia_torch_trainer.py'),
    '--run-dir',
    runDir,
    '--data',
    tokens,
    '--pad-id',
    String(tok.ids.pad),
    ...(latest ? ['--resume', latest.dir] : []),
  ];
  // In a Slurm job the job script says how to reach every GPU of every node (srun + torch.distributed.run).
  const torchrun = process.env.TAIA_TORCHRUN?.trim().split(/\s+/);
  const args = torchrun
    ? script
    : config.workers > 1
      ? ['-m', 'torch.distributed.run', '--standalone', `--nproc_per_node=${config.workers}`, ...script]
      : script;
  let result: EngineResult | undefined;
  let lastLoss: number | undefined;
  const onMessage = async (m: EngineMessage): Promise<void> => {
    switch (m.type) {
      case 'started':
        await hooks.started({
          backend: `torch on ${String(m.device)} (${String(m.dtype)}${Number(m.world) > 1 ? `, ${String(m.world)} processes` : ''})`,
          totalSteps: Number(m.totalSteps),
          startStep: Number(m.startStep),
          parameters: Number(m.parameters),
          trainableParameters: Number(m.trainableParameters),
          examples: Number(m.examples),
        });
        break;
      case 'step':
        lastLoss = Number(m.loss);
        await hooks.step({
          step: Number(m.step),
          totalSteps: Number(m.totalSteps),
          epoch: Number(m.epoch),
          loss: lastLoss,
          lr: Number(m.lr),
          gradNorm: Number(m.gradNorm),
          tokensPerSecond: Number(m.tokensPerSecond),
          gpuMemory: Number(m.gpuMemory) || undefined,
        });
        break;
      case 'checkpoint':
        await hooks.checkpoint(Number(m.step), String(m.path));
        break;
      case 'done':
        result = {
          state: m.state === 'done' ? 'done' : 'cancelled',
          step: Number(m.step),
          finalLoss: lastLoss,
          checkpoint: typeof m.checkpoint === 'string' ? m.checkpoint : undefined,
        };
        break;
    }
  };
  const python = startPython(args, onMessage, hooks.log, torchrun);
  // One cancel request: the script stops reading stdin once it has one.
  const poll = setInterval(() => {
    if (!hooks.cancelled()) return;
    python.send({ type: 'cancel' });
    clearInterval(poll);
  }, 200);
  try {
    const exit = await python.exited;
    if (!result)
      throw new Error(
        `taia_torch_trainer.py exited ${exit.signal ? `on ${exit.signal}` : `with code ${exit.code}`} without finishing (see trainer.out)`,
      );
    return result;
  } finally {
    clearInterval(poll);
  }
}
