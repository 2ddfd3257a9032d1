// Generates small but real Hugging Face checkpoints (config.json + safetensors, single or sharded,
// PEFT LoRA adapters) for tests and benchmarks.
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { bf16Bytes, bf16Values, f32Bytes, RefTensor, rng, writeSafetensors } from './safetensorsRef';

export interface LlamaShape {
  layers: number;
  hidden: number;
  intermediate: number;
  vocab: number;
  heads?: number;
  kvHeads?: number;
  tied?: boolean;
  /** Qwen2-style q/k/v biases. */
  qkvBias?: boolean;
}

export type GenDtype = 'BF16' | 'F32';

/** The tensor list of a Llama-family model, in the order transformers saves it. */
export function llamaTensorShapes(s: LlamaShape): { name: string; shape: number[] }[] {
  const heads = s.heads ?? 4;
  const kv = s.kvHeads ?? heads;
  const headDim = s.hidden / heads;
  const out: { name: string; shape: number[] }[] = [{ name: 'model.embed_tokens.weight', shape: [s.vocab, s.hidden] }];
  for (let l = 0; l < s.layers; l++) {
    const p = `model.layers.${l}.`;
    out.push(
      { name: `${p}input_layernorm.weight`, shape: [s.hidden] },
      { name: `${p}self_attn.q_proj.weight`, shape: [s.hidden, s.hidden] },
      { name: `${p}self_attn.k_proj.weight`, shape: [kv * headDim, s.hidden] },
      { name: `${p}self_attn.v_proj.weight`, shape: [kv * headDim, s.hidden] },
    );
    if (s.qkvBias) {
      out.push(
        { name: `${p}self_attn.q_proj.bias`, shape: [s.hidden] },
        { name: `${p}self_attn.k_proj.bias`, shape: [kv * headDim] },
        { name: `${p}self_attn.v_proj.bias`, shape: [kv * headDim] },
      );
    }
    out.push(
      { name: `${p}self_attn.o_proj.weight`, shape: [s.hidden, s.hidden] },
      { name: `${p}post_attention_layernorm.weight`, shape: [s.hidden] },
      { name: `${p}mlp.gate_proj.weight`, shape: [s.intermediate, s.hidden] },
      { name: `${p}mlp.up_proj.weight`, shape: [s.intermediate, s.hidden] },
      { name: `${p}mlp.down_proj.weight`, shape: [s.hidden, s.intermediate] },
    );
  }
  out.push({ name: 'model.norm.weight', shape: [s.hidden] });
  if (!s.tied) out.push({ name: 'lm_head.weight', shape: [s.vocab, s.hidden] });
  return out;
}

export function llamaConfig(s: LlamaShape, dtype: GenDtype): Record<string, unknown> {
  return {
    architectures: [s.qkvBias ? 'Qwen2ForCausalLM' : 'LlamaForCausalLM'],
    model_type: s.qkvBias ? 'qwen2' : 'llama',
    hidden_size: s.hidden,
    intermediate_size: s.intermediate,
    num_hidden_layers: s.layers,
    num_attention_heads: s.heads ?? 4,
    num_key_value_heads: s.kvHeads ?? s.heads ?? 4,
    vocab_size: s.vocab,
    max_position_embeddings: 256,
    rms_norm_eps: 1e-6,
    rope_theta: 10000,
    tie_word_embeddings: s.tied === true,
    torch_dtype: dtype === 'BF16' ? 'bfloat16' : 'float32',
  };
}

function encode(values: Float64Array, dtype: GenDtype): Uint8Array {
  return dtype === 'BF16' ? bf16Bytes(values) : f32Bytes(values);
}

export interface WriteModelOptions {
  dtype?: GenDtype;
  seed?: number;
  /** Per-tensor override of the values (e.g. base + planted delta). */
  values?: (name: string, shape: number[], base: Float64Array) => Float64Array;
  /** Split into this many shards with an index. */
  shards?: number;
  extraConfig?: Record<string, unknown>;
  tokenizer?: boolean;
}

export function randomValues(n: number, seed: number, scale = 0.05): Float64Array {
  const r = rng(seed);
  return Float64Array.from({ length: n }, () => (r() * 2 - 1) * scale);
}

function hashName(name: string): number {
  let h = 2166136261;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 16777619);
  return h >>> 0;
}

/** Writes a Llama-family model folder; values are random but a function of (seed, name). */
export function writeLlama(dir: string, s: LlamaShape, opts: WriteModelOptions = {}): RefTensor[] {
  const dtype = opts.dtype ?? 'BF16';
  mkdirSync(dir, { recursive: true });
  const tensors = llamaTensorShapes(s).map(({ name, shape }) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const base = randomValues(n, (opts.seed ?? 1) * 7919 + hashName(name));
    const values = opts.values ? opts.values(name, shape, base) : base;
    return { name, dtype, shape, data: encode(values, dtype) };
  });
  writeFileSync(
    path.join(dir, 'config.json'),
    JSON.stringify({ ...llamaConfig(s, dtype), ...opts.extraConfig }, null, 2),
  );
  writeFileSync(path.join(dir, 'generation_config.json'), JSON.stringify({ bos_token_id: 1, eos_token_id: 2 }));
  if (opts.tokenizer) {
    writeFileSync(
      path.join(dir, 'tokenizer_config.json'),
      JSON.stringify({ model_max_length: 256, chat_template: '{{ messages }}' }),
    );
    writeFileSync(
      path.join(dir, 'tokenizer.json'),
      JSON.stringify({ version: '1.0', model: { type: 'BPE', vocab: {}, merges: [] } }),
    );
  }
  writeShards(dir, tensors, opts.shards ?? 1);
  return tensors;
}

/** Writes tensors as model.safetensors or as N shards plus model.safetensors.index.json. */
export function writeShards(dir: string, tensors: RefTensor[], shards: number): void {
  if (shards <= 1) {
    writeSafetensors(path.join(dir, 'model.safetensors'), tensors, { format: 'pt' });
    return;
  }
  const per = Math.ceil(tensors.length / shards);
  const weightMap: Record<string, string> = {};
  let total = 0;
  for (let i = 0; i < shards; i++) {
    const file = `model-${String(i + 1).padStart(5, '0')}-of-${String(shards).padStart(5, '0')}.safetensors`;
    const part = tensors.slice(i * per, (i + 1) * per);
    for (const t of part) {
      weightMap[t.name] = file;
      total += t.data.length;
    }
    writeSafetensors(path.join(dir, file), part, { format: 'pt' });
  }
  writeFileSync(
    path.join(dir, 'model.safetensors.index.json'),
    JSON.stringify({ metadata: { total_size: total }, weight_map: weightMap }, null, 2),
  );
}

export interface AdapterSpec {
  r: number;
  alpha: number;
  targets: string[];
  rslora?: boolean;
  rankPattern?: Record<string, number>;
  alphaPattern?: Record<string, number>;
  fanInFanOut?: boolean;
  loraBias?: boolean;
  dora?: boolean;
  seed?: number;
  dtype?: GenDtype;
}

export interface AdapterModule {
  module: string;
  r: number;
  a: Float64Array;
  b: Float64Array;
  inDim: number;
  outDim: number;
  bias?: Float64Array;
}

/**
 * Writes a PEFT LoRA adapter for the given base tensor shapes: keys `base_model.model.<module>.lora_A.weight`
 * [r, in] and `lora_B.weight` [out, r]. Returns the factors (as stored after rounding) for reference maths.
 */
export function writeAdapter(
  dir: string,
  baseShapes: { name: string; shape: number[] }[],
  spec: AdapterSpec,
): AdapterModule[] {
  mkdirSync(dir, { recursive: true });
  const dtype = spec.dtype ?? 'F32';
  const tensors: RefTensor[] = [];
  const modules: AdapterModule[] = [];
  let seed = spec.seed ?? 3;
  for (const { name, shape } of baseShapes) {
    const m = /^(.*)\.weight$/.exec(name);
    if (!m || shape.length !== 2 || !spec.targets.some((t) => m[1].endsWith(`.${t}`))) continue;
    const module = m[1];
    const r =
      Object.entries(spec.rankPattern ?? {}).find(([k]) => new RegExp(`^(.*\\.)?(${k})$`).test(module))?.[1] ?? spec.r;
    const [outDim, inDim] = spec.fanInFanOut ? [shape[1], shape[0]] : shape;
    const a = randomValues(r * inDim, seed++, 0.1);
    const b = randomValues(outDim * r, seed++, 0.1);
    const round = (v: Float64Array) => (dtype === 'F32' ? Float64Array.from(v, Math.fround) : bf16Values(bf16Bytes(v)));
    const mod: AdapterModule = { module, r, a: round(a), b: round(b), inDim, outDim };
    tensors.push({
      name: `base_model.model.${module}.lora_A.weight`,
      dtype,
      shape: [r, inDim],
      data: encode(a, dtype),
    });
    tensors.push({
      name: `base_model.model.${module}.lora_B.weight`,
      dtype,
      shape: [outDim, r],
      data: encode(b, dtype),
    });
    if (spec.loraBias) {
      const bias = randomValues(outDim, seed++, 0.1);
      mod.bias = round(bias);
      tensors.push({
        name: `base_model.model.${module}.lora_B.bias`,
        dtype,
        shape: [outDim],
        data: encode(bias, dtype),
      });
    }
    if (spec.dora)
      tensors.push({
        name: `base_model.model.${module}.lora_magnitude_vector`,
        dtype,
        shape: [outDim],
        data: encode(randomValues(outDim, seed++), dtype),
      });
    modules.push(mod);
  }
  writeSafetensors(path.join(dir, 'adapter_model.safetensors'), tensors);
  writeFileSync(
    path.join(dir, 'adapter_config.json'),
    JSON.stringify({
      peft_type: 'LORA',
      task_type: 'CAUSAL_LM',
      base_model_name_or_path: 'generated-base',
      r: spec.r,
      lora_alpha: spec.alpha,
      lora_dropout: 0.05,
      target_modules: spec.targets,
      use_rslora: spec.rslora === true,
      use_dora: spec.dora === true,
      rank_pattern: spec.rankPattern ?? {},
      alpha_pattern: spec.alphaPattern ?? {},
      fan_in_fan_out: spec.fanInFanOut === true,
      lora_bias: spec.loraBias === true,
      bias: 'none',
      modules_to_save: null,
    }),
  );
  return modules;
}
