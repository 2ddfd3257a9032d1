// The experiment file (`*.taia.yaml`): one declarative schema that the trainer, the CLI, the language
// server and the README all read. Key names follow Hugging Face TrainingArguments and PEFT's LoraConfig,
// so a config moves between this tool, the PyTorch engine and a transformers script without renaming.
import { DEFAULT_RECIPE } from '../merge/defaults';

interface Common {
  doc: string;
}
export interface IntegerField extends Common {
  type: 'integer';
  default: number;
  min?: number;
  max?: number;
}
export interface NumberField extends Common {
  type: 'number';
  default: number;
  min?: number;
  max?: number;
  exclusiveMin?: boolean;
}
export interface BooleanField extends Common {
  type: 'boolean';
  default: boolean;
}
export interface EnumField<V extends string = string> extends Common {
  type: 'enum';
  values: readonly V[];
  default: V;
  valueDocs?: Partial<Record<V, string>>;
}
export interface StringField extends Common {
  type: 'string';
  default?: string;
}
/**
 * A path relative to the experiment file's folder; `kind` says what must be there. `required` is
 * true, or the engines that need it (the base and dataset mean nothing to `engine: command`).
 */
export interface PathField extends Common {
  type: 'path';
  kind: 'checkpoint' | 'dataset' | 'file' | 'folder';
  required?: true | { engines: readonly string[] };
}
export interface ListField extends Common {
  type: 'string[]';
  default: readonly string[];
}
/** A program with its arguments as a list (run directly), or one string (run by the shell). */
export interface CommandField extends Common {
  type: 'command';
  required?: { engines: readonly string[] };
}
/** Environment variables: a mapping of names to string values. */
export interface EnvField extends Common {
  type: 'env';
}
export type Field =
  IntegerField | NumberField | BooleanField | EnumField | StringField | PathField | ListField | CommandField | EnvField;
export interface Section {
  type: 'section';
  doc: string;
  fields: Record<string, Field>;
}

const enumField = <V extends string>(
  values: readonly V[],
  def: V,
  doc: string,
  valueDocs?: Partial<Record<V, string>>,
): EnumField<V> => ({ type: 'enum', values, default: def, doc, valueDocs });

/** The engines that train a base model on a dataset themselves (`command` runs someone else's trainer). */
export const OWN_ENGINES = ['tfjs', 'torch'] as const;

/** The linear modules of Llama-family layers, in PEFT's `target_modules` naming. */
export const LINEAR_MODULES = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] as const;

export const EXPERIMENT_SCHEMA = {
  name: { type: 'string', doc: 'Name of the experiment; runs are named after it. Default: the file name.' },
  base: {
    type: 'path',
    kind: 'checkpoint',
    required: { engines: OWN_ENGINES },
    doc: 'Base model: a Hugging Face model folder (config.json, safetensors, tokenizer).',
  },
  dataset: {
    type: 'path',
    kind: 'dataset',
    required: { engines: OWN_ENGINES },
    doc: 'Fine-tuning data: JSONL/JSON (Alpaca, ShareGPT, chat messages, prompt/completion, text) or Parquet.',
  },
  engine: enumField(['tfjs', 'torch', 'command'] as const, 'tfjs', 'Training engine.', {
    tfjs: 'Built-in TensorFlow.js engine (small models, no Python needed).',
    torch: 'PyTorch with transformers and PEFT (real LLMs on CUDA GPUs).',
    command:
      'Any training command (llamafactory-cli, axolotl, accelerate launch, torchrun, your script), followed through its output_dir and its log lines.',
  }),
  command: {
    type: 'command',
    required: { engines: ['command'] },
    doc: 'engine command: the program and its arguments as a list (run directly), or one string (run by /bin/sh). It runs in its own process group.',
  },
  cwd: {
    type: 'path',
    kind: 'folder',
    doc: "engine command: the folder it runs in. Default: the experiment file's folder.",
  },
  env: {
    type: 'env',
    doc: "engine command: environment variables added to the command's (PYTHONUNBUFFERED=1 is set unless given, so log lines arrive as they are printed).",
  },
  output_dir: {
    type: 'path',
    kind: 'folder',
    doc: 'engine command: where the tool writes trainer_state.json and checkpoint-N/ (its output_dir); followed live for metrics and checkpoints.',
  },
  cancel_grace_seconds: {
    type: 'integer',
    default: 30,
    min: 0,
    max: 3600,
    doc: 'engine command: on cancel, SIGINT to the process group (the HF Trainer stops), then SIGTERM after this many seconds, then SIGKILL after as many again.',
  },
  device: enumField(['auto', 'gpu', 'cpu'] as const, 'auto', 'Where to train: `auto` takes a GPU when one is usable.'),
  backend: enumField(
    ['auto', 'tensorflow', 'webgpu', 'wasm', 'cpu'] as const,
    'auto',
    'TensorFlow.js backend (engine tfjs): `auto` tries tensorflow (tfjs-node-gpu, then tfjs-node), webgpu, wasm, then cpu, as `device` allows.',
  ),
  launcher: enumField(
    ['local', 'slurm'] as const,
    'local',
    'Where the trainer runs: a child process of this machine, or a Slurm batch job (see the `slurm` section).',
    {
      local: 'A child process of the editor or of `taia train`.',
      slurm: 'A batch job submitted with sbatch; the run folder must be on a file system the compute nodes share.',
    },
  ),
  workers: {
    type: 'integer',
    default: 0,
    min: 0,
    max: 64,
    doc: 'Data-parallel workers: threads of the tfjs engine (0: one per CPU core for the single-threaded wasm and cpu backends), GPU processes of the torch engine under torch.distributed.run (0 or 1: one).',
  },
  train: {
    type: 'section',
    doc: 'Training hyperparameters (Hugging Face TrainingArguments names).',
    fields: {
      method: enumField(
        ['lora', 'full'] as const,
        'lora',
        'Fine-tune LoRA adapters (saved as a PEFT adapter) or all parameters (saved as a model folder).',
      ),
      num_train_epochs: {
        type: 'integer',
        default: 1,
        min: 1,
        doc: 'Passes over the dataset (ignored when max_steps is set).',
      },
      max_steps: {
        type: 'integer',
        default: 0,
        min: 0,
        doc: 'Optimizer steps to run; 0 means as many as num_train_epochs take.',
      },
      batch_size: { type: 'integer', default: 8, min: 1, max: 4096, doc: 'Examples per micro-batch.' },
      gradient_accumulation_steps: {
        type: 'integer',
        default: 1,
        min: 1,
        doc: 'Micro-batches summed per optimizer step.',
      },
      max_seq_length: {
        type: 'integer',
        default: 256,
        min: 4,
        max: 131072,
        doc: 'Tokens per example; longer examples are truncated, shorter ones padded.',
      },
      learning_rate: { type: 'number', default: 2e-4, min: 0, exclusiveMin: true, max: 1, doc: 'Peak learning rate.' },
      lr_scheduler_type: enumField(['cosine', 'linear', 'constant'] as const, 'cosine', 'Decay after warm-up.'),
      warmup_steps: {
        type: 'integer',
        default: 0,
        min: 0,
        doc: 'Linear warm-up steps (takes precedence over warmup_ratio).',
      },
      warmup_ratio: { type: 'number', default: 0, min: 0, max: 1, doc: 'Warm-up as a fraction of all steps.' },
      weight_decay: { type: 'number', default: 0, min: 0, max: 1, doc: 'Decoupled weight decay (AdamW).' },
      adam_beta1: { type: 'number', default: 0.9, min: 0, max: 1, doc: 'AdamW β1.' },
      adam_beta2: { type: 'number', default: 0.999, min: 0, max: 1, doc: 'AdamW β2.' },
      adam_epsilon: { type: 'number', default: 1e-8, min: 0, exclusiveMin: true, max: 1, doc: 'AdamW ε.' },
      max_grad_norm: {
        type: 'number',
        default: 1,
        min: 0,
        doc: 'Clip gradients to this global norm; 0 turns clipping off.',
      },
      seed: {
        type: 'integer',
        default: 42,
        min: 0,
        max: 2 ** 31 - 1,
        doc: 'Seed of initialisation and data order: the same seed gives the same run.',
      },
      save_steps: {
        type: 'integer',
        default: 0,
        min: 0,
        doc: 'Save a checkpoint every N steps (0: only at the end and on cancel).',
      },
      logging_steps: { type: 'integer', default: 1, min: 1, doc: 'Record metrics every N steps.' },
      train_on: enumField(
        ['responses', 'all'] as const,
        'responses',
        'Which tokens carry loss: the assistant turns only, or every token.',
      ),
    },
  },
  lora: {
    type: 'section',
    doc: 'LoRA settings (PEFT LoraConfig names), used when train.method is lora.',
    fields: {
      r: { type: 'integer', default: 16, min: 1, max: 4096, doc: 'Rank of the adapter matrices.' },
      lora_alpha: {
        type: 'number',
        default: 32,
        min: 0,
        exclusiveMin: true,
        doc: 'Scaling numerator: the update is (lora_alpha / r) · B A.',
      },
      lora_dropout: {
        type: 'number',
        default: 0,
        min: 0,
        max: 0.99,
        doc: 'Dropout on the adapter input during training, with masks seeded by the seed, the micro-batch and the data-parallel rank (a resumed run draws the same ones).',
      },
      use_rslora: { type: 'boolean', default: false, doc: 'Scale by lora_alpha / sqrt(r) (rank-stabilised LoRA).' },
      target_modules: {
        type: 'string[]',
        default: LINEAR_MODULES,
        doc: 'Module names that get adapters; TAIA trains all linear layers and keeps the attention ones.',
      },
    },
  },
  merge: {
    type: 'section',
    doc: 'How the fine-tune is merged after training.',
    fields: {
      recipe: {
        type: 'string',
        default: DEFAULT_RECIPE,
        doc: 'A built-in recipe (taia, taia-strict, taif, full, base) or a recipe file.',
      },
    },
  },
  slurm: {
    type: 'section',
    doc: 'The Slurm job of `launcher: slurm` (sbatch options; empty means the cluster default). Settings `taiaLab.slurm.*` fill keys the file leaves out.',
    fields: {
      partition: { type: 'string', doc: 'Partition (`--partition`).' },
      account: { type: 'string', doc: 'Account charged (`--account`).' },
      qos: { type: 'string', doc: 'Quality of service (`--qos`).' },
      time: { type: 'string', doc: 'Time limit (`--time`), e.g. 24:00:00 or 2-00:00:00.' },
      nodes: {
        type: 'integer',
        default: 1,
        min: 1,
        max: 4096,
        doc: 'Nodes (`--nodes`); the PyTorch engine runs torch.distributed.run on each through srun.',
      },
      gpus_per_node: {
        type: 'integer',
        default: 0,
        min: 0,
        max: 64,
        doc: 'GPUs per node (`--gpus-per-node`); the PyTorch engine starts one process per GPU (0: one process per node).',
      },
      cpus_per_task: {
        type: 'integer',
        default: 0,
        min: 0,
        max: 4096,
        doc: 'CPUs per node task (`--cpus-per-task`; 0: the cluster default).',
      },
      mem: { type: 'string', doc: 'Memory per node (`--mem`), e.g. 200G.' },
      constraint: { type: 'string', doc: 'Node features required (`--constraint`), e.g. a100.' },
      modules: { type: 'string[]', default: [], doc: 'Environment modules loaded first (`module load` each).' },
      setup: {
        type: 'string[]',
        default: [],
        doc: 'Shell lines run before the trainer, e.g. `source ~/venv/bin/activate`.',
      },
      sbatch_args: {
        type: 'string[]',
        default: [],
        doc: 'Further sbatch options, one per item, e.g. `--exclusive`; they come last and so win.',
      },
      signal_seconds: {
        type: 'integer',
        default: 120,
        min: 10,
        max: 3600,
        doc: 'Seconds before the time limit that Slurm warns the trainer (`--signal=B:USR1@N`); it saves a checkpoint and stops.',
      },
      requeue: {
        type: 'boolean',
        default: false,
        doc: 'On the warning, requeue the job (`--requeue`); the requeued job resumes from the checkpoint by itself.',
      },
    },
  },
  eval: {
    type: 'section',
    doc: 'Evaluation after training.',
    fields: { tasks: { type: 'string[]', default: [], doc: 'Task files (JSONL) to evaluate on.' } },
  },
} as const satisfies Record<string, Field | Section>;

// The config type is derived from the schema, so the two cannot drift apart.
type ValueOf<F> = F extends { type: 'integer' | 'number' }
  ? number
  : F extends { type: 'boolean' }
    ? boolean
    : F extends { type: 'enum'; values: readonly (infer V)[] }
      ? V
      : F extends { type: 'string[]' }
        ? string[]
        : F extends { type: 'command' }
          ? string | string[]
          : F extends { type: 'env' }
            ? Record<string, string>
            : string;
type SectionValue<S> = S extends { type: 'section'; fields: infer Fs }
  ? { [K in keyof Fs]: ValueOf<Fs[K]> }
  : ValueOf<S>;
export type ExperimentConfig = {
  -readonly [K in keyof typeof EXPERIMENT_SCHEMA]: SectionValue<(typeof EXPERIMENT_SCHEMA)[K]>;
};
export type TrainConfig = ExperimentConfig['train'];
/** The engines that evaluate and train by themselves, and their devices and tfjs backends, as the schema lists them. */
export type OwnEngine = (typeof OWN_ENGINES)[number];
export type Device = ExperimentConfig['device'];
export type Backend = ExperimentConfig['backend'];
export type LoraSettings = ExperimentConfig['lora'];
export type SlurmSettings = ExperimentConfig['slurm'];

export const EXPERIMENT_SUFFIX = '.taia.yaml';
