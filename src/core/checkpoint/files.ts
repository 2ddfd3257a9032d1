import type { FloatDtype } from '../safetensors/dtypes';

/** The small files of a Hugging Face model folder that travel with its weights. */
export const CONFIG_FILES = ['config.json', 'generation_config.json'];
export const TOKENIZER_FILES = [
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'tokenizer.model',
  'vocab.json',
  'merges.txt',
  'added_tokens.json',
  'chat_template.jinja',
  'chat_template.json',
];

/** config.json's `torch_dtype` for each float dtype. */
export const TORCH_DTYPE: Record<FloatDtype, string> = { BF16: 'bfloat16', F16: 'float16', F32: 'float32' };
