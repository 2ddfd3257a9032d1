import { readdir, readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { InputError } from '../errors';
import { Block, BLOCKS } from './types';
// The bundled table: one data file per family, in the order families are tried without a hint.
// A family listed earlier must never claim a name that a later family means differently.
import llama from './architectures/llama.json';
import mimo from './architectures/mimo.json';
import phi3 from './architectures/phi3.json';
import phi from './architectures/phi.json';
import starcoder2 from './architectures/starcoder2.json';
import mixtral from './architectures/mixtral.json';
import qwenMoe from './architectures/qwen_moe.json';
import deepseek from './architectures/deepseek.json';
import glm4 from './architectures/glm4.json';
import internlm2 from './architectures/internlm2.json';
import baichuan from './architectures/baichuan.json';
import granitemoe from './architectures/granitemoe.json';
import jamba from './architectures/jamba.json';
import gpt2 from './architectures/gpt2.json';
import qwen from './architectures/qwen.json';
import gptj from './architectures/gptj.json';
import gptNeox from './architectures/gpt_neox.json';
import falcon from './architectures/falcon.json';
import bloom from './architectures/bloom.json';
import chatglm from './architectures/chatglm.json';
import dbrx from './architectures/dbrx.json';
import olmoV1 from './architectures/olmo_v1.json';
import phiMixformer from './architectures/phi_mixformer.json';
import multimodal from './architectures/multimodal.json';

/**
 * One rule: a regular expression matched against a tensor's module path (the name without wrappers,
 * optionally followed by one parameter component such as `.weight`), the block it belongs to, and the
 * short module name. `$<g>` in the module name is replaced by the named group `g`; a named group
 * `expert` is the expert index. `tower` marks the non-language towers of multimodal models.
 */
export interface TensorRule {
  match: string;
  block: Block;
  module: string;
  tower?: string;
}

/** One architecture family, as its data file states it. */
export interface ArchitectureFamily {
  name: string;
  description: string;
  /** Where the names come from. */
  source: string;
  /** Hugging Face config.json `model_type` values this family covers (also matched against class names). */
  modelTypes: string[];
  /** Regular expressions for the start of a decoder layer's names; group 1 is the layer index. */
  layerPrefixes: string[];
  /** Rules for the rest of a name after a layer prefix. */
  layerRules: TensorRule[];
  /** Rules for whole names outside the layer stack. */
  rules: TensorRule[];
  /** The data file: `built-in architectures/<name>.json` or a user file's path. */
  file: string;
}

/** A malformed architecture file; the message names the file and the field. */
export class ArchitectureError extends InputError {
  constructor(
    readonly file: string,
    readonly field: string,
    problem: string,
  ) {
    super(`${file}: ${field ? `${field}: ` : ''}${problem}`);
    this.name = 'ArchitectureError';
  }
}

const KEYS = ['name', 'description', 'source', 'model_types', 'layer_prefixes', 'layer_rules', 'rules'];
const RULE_KEYS = ['match', 'block', 'module', 'tower'];

function checkRegex(file: string, field: string, source: string, groups: number): void {
  let re: RegExp;
  try {
    re = new RegExp(source);
  } catch (e) {
    throw new ArchitectureError(file, field, `not a valid regular expression (${(e as Error).message})`);
  }
  // Count capturing groups by matching the empty alternative: `new RegExp(src + '|')` yields them all.
  if (groups > 0 && new RegExp(`${re.source}|`).exec('')!.length - 1 < groups) {
    throw new ArchitectureError(
      file,
      field,
      'needs a capturing group for the layer index, e.g. "model\\\\.layers\\\\.(\\\\d+)\\\\."',
    );
  }
}

/** Validates one family document (a parsed data file). */
export function parseArchitecture(doc: unknown, file: string): ArchitectureFamily {
  const fail = (field: string, problem: string): never => {
    throw new ArchitectureError(file, field, problem);
  };
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc))
    fail('', 'an architecture file is a JSON object with name, model_types, layer_prefixes, layer_rules and rules');
  const d = doc as Record<string, unknown>;
  for (const key of Object.keys(d))
    if (!KEYS.includes(key) && !key.startsWith('$')) fail(key, `unknown field (fields: ${KEYS.join(', ')})`);
  if (typeof d.name !== 'string' || !/^[\w.-]+$/.test(d.name))
    fail('name', 'must be a non-empty name of letters, digits, _ . or -');
  const strings = (key: string, check?: (field: string, s: string) => void): string[] => {
    const v = d[key] ?? [];
    if (!Array.isArray(v)) fail(key, 'must be a list of strings');
    (v as unknown[]).forEach((s, i) => {
      if (typeof s !== 'string' || s === '') fail(`${key}[${i}]`, 'must be a non-empty string');
      check?.(`${key}[${i}]`, s as string);
    });
    return v as string[];
  };
  const rules = (key: string): TensorRule[] => {
    const v = d[key] ?? [];
    if (!Array.isArray(v)) fail(key, 'must be a list of rules');
    return (v as unknown[]).map((r, i) => {
      const field = `${key}[${i}]`;
      if (typeof r !== 'object' || r === null || Array.isArray(r))
        fail(field, 'a rule is an object with match, block and module');
      const o = r as Record<string, unknown>;
      for (const k of Object.keys(o))
        if (!RULE_KEYS.includes(k)) fail(`${field}.${k}`, `unknown field (fields: ${RULE_KEYS.join(', ')})`);
      if (typeof o.match !== 'string' || o.match === '') fail(`${field}.match`, 'must be a regular expression string');
      checkRegex(file, `${field}.match`, o.match as string, 0);
      if (!BLOCKS.includes(o.block as Block))
        fail(`${field}.block`, `must be one of ${BLOCKS.join(', ')}, got ${JSON.stringify(o.block)}`);
      if (typeof o.module !== 'string' || o.module === '')
        fail(`${field}.module`, 'must be a short module name, e.g. "q" or "$<m>"');
      if (o.tower !== undefined && (typeof o.tower !== 'string' || o.tower === ''))
        fail(`${field}.tower`, 'must be a name such as "vision"');
      return {
        match: o.match as string,
        block: o.block as Block,
        module: o.module as string,
        ...(o.tower === undefined ? {} : { tower: o.tower as string }),
      };
    });
  };
  const layerPrefixes = strings('layer_prefixes', (field, s) => checkRegex(file, field, s, 1));
  const layerRules = rules('layer_rules');
  if (layerRules.length > 0 && layerPrefixes.length === 0)
    fail('layer_prefixes', 'layer_rules need at least one layer prefix');
  return {
    name: d.name as string,
    description: typeof d.description === 'string' ? d.description : '',
    source: typeof d.source === 'string' ? d.source : '',
    modelTypes: strings('model_types'),
    layerPrefixes,
    layerRules,
    rules: rules('rules'),
    file,
  };
}

const BUNDLED_DOCS: Record<string, unknown> = {
  llama,
  mimo,
  phi3,
  phi,
  starcoder2,
  mixtral,
  qwen_moe: qwenMoe,
  deepseek,
  glm4,
  internlm2,
  baichuan,
  granitemoe,
  jamba,
  gpt2,
  qwen,
  gptj,
  gpt_neox: gptNeox,
  falcon,
  bloom,
  chatglm,
  dbrx,
  olmo_v1: olmoV1,
  phi_mixformer: phiMixformer,
  multimodal,
};

/** The families shipped with the tool. */
export const BUNDLED_FAMILIES: readonly ArchitectureFamily[] = Object.entries(BUNDLED_DOCS).map(([file, doc]) =>
  parseArchitecture(doc, `built-in architectures/${file}.json`),
);

/** Where a workspace keeps its own architecture files. */
export const WORKSPACE_ARCHITECTURES = path.join('.taia', 'architectures');

/** Every `*.json` of a folder, validated, in file-name order. */
export async function loadArchitectureDir(dir: string): Promise<ArchitectureFamily[]> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => n.endsWith('.json')).sort();
  } catch {
    throw new ArchitectureError(dir, '', 'not a readable folder of architecture files');
  }
  const families: ArchitectureFamily[] = [];
  for (const n of names) {
    const file = path.join(dir, n);
    let doc: unknown;
    try {
      doc = JSON.parse(await readFile(file, 'utf-8'));
    } catch (e) {
      throw new ArchitectureError(file, '', `not valid JSON (${(e as Error).message})`);
    }
    families.push(parseArchitecture(doc, file));
  }
  return families;
}
