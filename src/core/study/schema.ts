// The study file (`*.taia-study.yaml`): which parts of a fine-tune to keep, asked as one file. Its
// scalar keys are fields of the experiment schema's kinds (so the language server's diagnostics,
// completion and hover read them the same way); `variants` is a list of recipe entries and grids.
import { DEFAULT_RECIPE } from '../merge/defaults';
import { BUILTIN_RECIPE_NAMES } from '../merge/recipes';
import { Backend, Device, EXPERIMENT_SCHEMA, Field, OwnEngine, Section, SlurmSettings } from '../experiment/schema';

export const STUDY_SUFFIX = '.taia-study.yaml';

/** Per-layer scans: one variant per layer (or per prefix of layers) with that layer's FFN reverted to base. */
export const SCANS = ['revert-ffn-each', 'revert-ffn-first'] as const;
export type ScanKind = (typeof SCANS)[number];

export const SCAN_DOCS: Record<ScanKind, string> = {
  'revert-ffn-each': 'one variant per layer l: the whole fine-tune except the FFN of layer l, which reverts to base',
  'revert-ffn-first':
    'one variant per k = 1..L: the whole fine-tune except the FFN of the first k layers (k = L is TAIA)',
};

/** The keys of one entry of `variants` (an entry may also be a bare recipe name). */
export const VARIANT_FIELDS: Record<string, Field> = {
  recipe: {
    type: 'string',
    default: DEFAULT_RECIPE,
    doc: `A built-in recipe (${BUILTIN_RECIPE_NAMES.join(', ')}) or a recipe file, relative to the study file.`,
  },
  name: {
    type: 'string',
    doc: 'Name of the variant in the results (default: the recipe, its layers and its scale); only for an entry that is one variant.',
  },
  layers: {
    type: 'string[]',
    default: [],
    doc: 'A layer range `A-B` or a list of them (a grid): the fine-tune only in those layers, base elsewhere.',
  },
  scale: {
    type: 'string[]',
    default: [],
    doc: 'A number or a list of them (a grid): base + scale·(fine-tune − base) on the tensors taken from the fine-tune.',
  },
  scan: {
    type: 'enum',
    values: SCANS,
    default: 'revert-ffn-each',
    doc: 'A per-layer scan instead of a recipe.',
    valueDocs: SCAN_DOCS,
  },
};

export const STUDY_SCHEMA = {
  name: {
    type: 'string',
    doc: 'Name of the study; its results go to .taia/results/studies/<name>/. Default: the file name.',
  },
  base: { type: 'path', kind: 'checkpoint', required: true, doc: 'Base model: a Hugging Face model folder.' },
  finetuned: {
    type: 'path',
    kind: 'checkpoint',
    required: true,
    doc: 'The fine-tune: a model folder, a PEFT LoRA adapter, or a run folder (.taia/runs/<id>: its newest checkpoint).',
  },
  // `engine: command` trains with another tool; an evaluation runs on one of the two evaluating engines.
  engine: {
    ...EXPERIMENT_SCHEMA.engine,
    values: ['tfjs', 'torch'] as const,
    doc: 'Evaluation engine: tfjs reads every variant straight from base and fine-tune; torch gets each variant written to a temporary folder.',
  },
  device: EXPERIMENT_SCHEMA.device,
  backend: EXPERIMENT_SCHEMA.backend,
  launcher: {
    ...EXPERIMENT_SCHEMA.launcher,
    doc: 'Where each variant is evaluated: a child process here, one after another, or a Slurm batch job per variant, all submitted at once (see the `slurm` section).',
  },
  slurm: EXPERIMENT_SCHEMA.slurm,
  eval: {
    type: 'section',
    doc: 'How each variant is evaluated.',
    fields: {
      tasks: {
        type: 'string[]',
        default: [],
        doc: 'Task files (JSONL) for the built-in evaluator, relative to the study file.',
      },
      max_new_tokens: {
        type: 'integer',
        default: 64,
        min: 1,
        max: 4096,
        doc: 'Longest greedy answer of a generation task, in tokens.',
      },
      limit: { type: 'integer', default: 0, min: 0, doc: 'Examples per task (0: all).' },
      command: {
        type: 'string',
        default: '',
        doc: 'An external evaluation command instead of the built-in evaluator, with `${checkpoint}` (a written merge, removed after), `${tasks}` and `${output}` substituted, e.g. lm-evaluation-harness.',
      },
    },
  },
  variants: {
    type: 'string[]',
    default: [],
    doc: 'The variants to evaluate: recipe names, or entries with `recipe`, `layers`, `scale` (lists make grids), `name`, or `scan: revert-ffn-each | revert-ffn-first`.',
  },
} as const satisfies Record<string, Field | Section>;

/** One entry of `variants` as written (validated), before grids and scans are expanded. */
export interface VariantEntry {
  /** Its position in the file's list, for messages (invalid entries are dropped from the config). */
  index: number;
  recipe?: string;
  name?: string;
  layers?: [number, number][];
  scale?: number[];
  scan?: ScanKind;
}

export interface StudyConfig {
  name: string;
  base: string;
  finetuned: string;
  engine: OwnEngine;
  device: Device;
  backend: Backend;
  launcher: 'local' | 'slurm';
  slurm: SlurmSettings;
  eval: { tasks: string[]; max_new_tokens: number; limit: number; command: string };
  variants: VariantEntry[];
}
