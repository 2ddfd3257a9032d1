import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { DEFAULT_CHAT_TEMPLATE } from './tokenizer';

export const BYTE_SPECIAL_TOKENS = ['<|bos|>', '<|eos|>', '<|pad|>'] as const;
/** 256 byte tokens plus the special tokens. */
export const BYTE_VOCAB_SIZE = 256 + BYTE_SPECIAL_TOKENS.length;

/**
 * A byte-level tokenizer for small self-made models, written as a real Hugging Face `tokenizer.json`
 * (a byte-level BPE with no merges: one token per byte, as GPT-2's byte alphabet), so transformers,
 * tokenizers and tokenizers.js all load it. Returns tokenizer.json and tokenizer_config.json contents.
 */
export function byteLevelTokenizer(): { tokenizer: Record<string, unknown>; config: Record<string, unknown> } {
  const vocab: Record<string, number> = {};
  const alphabet = gpt2ByteAlphabet();
  for (let b = 0; b < 256; b++) vocab[alphabet[b]] = b;
  BYTE_SPECIAL_TOKENS.forEach((t, i) => (vocab[t] = 256 + i));
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false };
  return {
    tokenizer: {
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: BYTE_SPECIAL_TOKENS.map((content, i) => ({
        id: 256 + i,
        content,
        single_word: false,
        lstrip: false,
        rstrip: false,
        normalized: false,
        special: true,
      })),
      normalizer: null,
      pre_tokenizer: byteLevel,
      post_processor: null,
      decoder: byteLevel,
      model: {
        type: 'BPE',
        dropout: null,
        unk_token: null,
        continuing_subword_prefix: null,
        end_of_word_suffix: null,
        fuse_unk: false,
        byte_fallback: false,
        ignore_merges: false,
        vocab,
        merges: [],
      },
    },
    config: {
      tokenizer_class: 'PreTrainedTokenizerFast',
      bos_token: BYTE_SPECIAL_TOKENS[0],
      eos_token: BYTE_SPECIAL_TOKENS[1],
      pad_token: BYTE_SPECIAL_TOKENS[2],
      model_max_length: 2048,
      chat_template: DEFAULT_CHAT_TEMPLATE,
    },
  };
}

/** GPT-2's map from bytes to printable characters, which byte-level BPE vocabularies are written in. */
function gpt2ByteAlphabet(): string[] {
  const printable = (b: number) => (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
  const out: string[] = [];
  let extra = 0;
  for (let b = 0; b < 256; b++) out[b] = String.fromCharCode(printable(b) ? b : 256 + extra++);
  return out;
}

/** Writes the byte-level tokenizer's tokenizer.json and tokenizer_config.json into a model folder. */
export function writeByteLevelTokenizer(modelDir: string): void {
  const { tokenizer, config } = byteLevelTokenizer();
  writeFileSync(path.join(modelDir, 'tokenizer.json'), JSON.stringify(tokenizer));
  writeFileSync(path.join(modelDir, 'tokenizer_config.json'), JSON.stringify(config, null, 2));
}
