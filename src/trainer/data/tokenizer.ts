import * as path from 'node:path';
import { Template } from '@huggingface/jinja';
import { Tokenizer } from '@huggingface/tokenizers';
import { exists } from '../../core/checkpoint/weights';
import type { Turn } from '../../core/datasets/records';
import { readJsonObject } from '../../core/util/json';

/**
 * The template used when a model folder has no chat template (a base model): Alpaca's prompt format,
 * which is also what the TAIA paper's instruction data uses. Raw text rows are passed through.
 */
export const DEFAULT_CHAT_TEMPLATE =
  "{{ bos_token }}{% for m in messages %}{% if m.role == 'system' %}{{ m.content }}\n\n{% elif m.role == 'user' %}### Instruction:\n{{ m.content }}\n\n" +
  "{% elif m.role == 'assistant' %}### Response:\n{{ m.content }}{{ eos_token }}{% if not loop.last %}\n\n{% endif %}{% elif m.role == 'text' %}{{ m.content }}{{ eos_token }}" +
  '{% else %}{{ m.role }}: {{ m.content }}\n\n{% endif %}{% endfor %}{% if add_generation_prompt %}### Response:\n{% endif %}';

/** A model folder's tokenizer (tokenizer.json through tokenizers.js) and chat template (through Jinja). */
export class ChatTokenizer {
  private constructor(
    private readonly tokenizer: Tokenizer,
    private readonly template: Template,
    readonly specials: { bos: string; eos: string; pad: string },
    readonly ids: { eos: number; pad: number },
    readonly templateSource: 'tokenizer_config.json' | 'default',
  ) {}

  static async load(modelDir: string): Promise<ChatTokenizer> {
    const tokFile = path.join(modelDir, 'tokenizer.json');
    if (!(await exists(tokFile)))
      throw new Error(`${tokFile}: no tokenizer (only tokenizer.json, the "fast" format, is read)`);
    const tokenizerJson = await readJsonObject(tokFile);
    // A missing tokenizer_config.json means defaults; an unreadable one is an error like any other file.
    const configFile = path.join(modelDir, 'tokenizer_config.json');
    const config = (await exists(configFile)) ? await readJsonObject(configFile) : {};
    let tokenizer: Tokenizer;
    try {
      tokenizer = new Tokenizer(tokenizerJson, config);
    } catch (e) {
      throw new Error(`${tokFile}: not a tokenizer that tokenizers.js reads (${(e as Error).message})`, { cause: e });
    }
    const special = (key: string): string => tokenText(config[key]) ?? '';
    const eos = special('eos_token');
    const bos = special('bos_token');
    const pad = special('pad_token') || eos;
    const idOf = (text: string): number | undefined => {
      const ids = text ? tokenizer.encode(text, { add_special_tokens: false }).ids : [];
      return ids.length === 1 ? ids[0] : undefined;
    };
    const eosId = idOf(eos);
    if (eosId === undefined)
      throw new Error(
        `${tokFile}: no eos_token in tokenizer_config.json, or it is not in the vocabulary; training needs one to end responses`,
      );
    const source = chatTemplateOf(config.chat_template);
    return new ChatTokenizer(
      tokenizer,
      new Template(source ?? DEFAULT_CHAT_TEMPLATE),
      { bos, eos, pad },
      { eos: eosId, pad: idOf(pad) ?? eosId },
      source ? 'tokenizer_config.json' : 'default',
    );
  }

  render(messages: Turn[], addGenerationPrompt: boolean): string {
    return this.template.render({
      messages,
      add_generation_prompt: addGenerationPrompt,
      bos_token: this.specials.bos,
      eos_token: this.specials.eos,
      pad_token: this.specials.pad,
    });
  }

  /** A raw prompt, no chat template: the BOS token (if the tokenizer has one, as the template and HF's Llama tokenizers start) and the text. */
  renderRaw(text: string): string {
    return this.specials.bos + text;
  }

  /** Token ids of rendered text; special tokens in it are matched, none are added (as apply_chat_template). */
  encode(text: string): number[] {
    return this.tokenizer.encode(text, { add_special_tokens: false }).ids;
  }

  decode(ids: number[]): string {
    // tokenizers.js rejects an empty list; a model that ends at once said nothing.
    return ids.length ? this.tokenizer.decode(ids, { skip_special_tokens: true }) : '';
  }
}

/** Special tokens are stored as strings or as AddedToken objects `{content: ...}`. */
function tokenText(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'object' && v !== null && typeof (v as { content?: unknown }).content === 'string')
    return (v as { content: string }).content;
  return undefined;
}

/** `chat_template` is a string, or a list of named templates of which "default" is used. */
function chatTemplateOf(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) {
    const named = v.find((t) => t?.name === 'default') ?? v[0];
    return typeof named?.template === 'string' ? named.template : undefined;
  }
  return undefined;
}
