// The record formats fine-tuning tools read (LLaMA-Factory, TRL, Axolotl), and their normalisation to a
// conversation. One function does both, so what detection calls Alpaca is exactly what reading can convert.

export type DatasetFormat = 'alpaca' | 'sharegpt' | 'messages' | 'prompt-completion' | 'text' | 'unknown';

/** One turn. Roles are 'system' | 'user' | 'assistant' | 'tool' as in chat templates, or 'text' for raw text. */
export interface Turn {
  role: 'system' | 'user' | 'assistant' | (string & {});
  content: string;
}

export interface Conversation {
  format: Exclude<DatasetFormat, 'unknown'>;
  messages: Turn[];
}

/** The fields that decide a record's format: all that detection needs to read of a Parquet file. */
export const FORMAT_FIELDS = [
  'messages',
  'conversations',
  'instruction',
  'output',
  'history',
  'prompt',
  'completion',
  'text',
];

/** ShareGPT speaker names (including LLaMA-Factory's tool turns) as chat-template roles; others pass through. */
const SHAREGPT_ROLES: Record<string, string> = {
  human: 'user',
  gpt: 'assistant',
  chatgpt: 'assistant',
  observation: 'tool',
};

export const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * A record as a conversation, or undefined when it has no known format. Checked in this order:
 * - `messages` or `conversations` holding turns: `{role, content}` is 'messages', `{from, value}` is
 *   'sharegpt' (human → user, gpt → assistant, observation → tool);
 * - Alpaca `{instruction, input?, output, system?, history?}`: history `[user, assistant]` pairs become earlier turns, then
 *   user = instruction + "\n\n" + input (when input is not blank), assistant = output;
 * - TRL `{prompt, completion}`, both strings (→ user, assistant) or both turn lists (concatenated);
 * - `{text}` as one turn of role 'text' (raw text for continued pre-training, no chat template).
 * A string `system` field becomes a leading system turn unless the conversation already has one.
 */
export function toConversation(record: unknown): Conversation | undefined {
  if (!isObject(record)) return undefined;
  const found = chat(record.messages) ?? chat(record.conversations) ?? alpaca(record) ?? promptCompletion(record);
  if (found) return withSystem(found, record.system);
  return typeof record.text === 'string'
    ? { format: 'text', messages: [{ role: 'text', content: record.text }] }
    : undefined;
}

function chat(value: unknown): Conversation | undefined {
  if (!Array.isArray(value) || value.length === 0 || !value.every(isObject)) return undefined;
  const turns = value as Record<string, unknown>[];
  if (turns.every((t) => typeof t.role === 'string' && contentText(t.content) !== undefined)) {
    return {
      format: 'messages',
      messages: turns.map((t) => ({ role: t.role as string, content: contentText(t.content) as string })),
    };
  }
  if (turns.every((t) => typeof t.from === 'string' && typeof t.value === 'string')) {
    return {
      format: 'sharegpt',
      messages: turns.map((t) => ({
        role: SHAREGPT_ROLES[t.from as string] ?? (t.from as string),
        content: t.value as string,
      })),
    };
  }
  return undefined;
}

/** OpenAI-style content: a string, null (an assistant turn that only calls tools), or a list of text parts. */
function contentText(content: unknown): string | undefined {
  if (typeof content === 'string') return content;
  if (content === null) return '';
  if (Array.isArray(content) && content.every((p) => isObject(p) && p.type === 'text' && typeof p.text === 'string')) {
    return content.map((p) => (p as { text: string }).text).join('');
  }
  return undefined;
}

function alpaca(r: Record<string, unknown>): Conversation | undefined {
  const history = r.history ?? [];
  if (
    typeof r.instruction !== 'string' ||
    typeof r.output !== 'string' ||
    !Array.isArray(history) ||
    !history.every(isPair)
  )
    return undefined;
  const input = typeof r.input === 'string' && r.input.trim() !== '' ? `\n\n${r.input}` : '';
  return {
    format: 'alpaca',
    messages: [
      ...history.flatMap(([user, assistant]) => [
        { role: 'user', content: user },
        { role: 'assistant', content: assistant },
      ]),
      { role: 'user', content: r.instruction + input },
      { role: 'assistant', content: r.output },
    ],
  };
}

const isPair = (h: unknown): h is [string, string] =>
  Array.isArray(h) && h.length === 2 && h.every((s) => typeof s === 'string');

function promptCompletion(r: Record<string, unknown>): Conversation | undefined {
  if (typeof r.prompt === 'string' && typeof r.completion === 'string') {
    return {
      format: 'prompt-completion',
      messages: [
        { role: 'user', content: r.prompt },
        { role: 'assistant', content: r.completion },
      ],
    };
  }
  const prompt = chat(r.prompt);
  const completion = chat(r.completion);
  return prompt && completion
    ? { format: 'prompt-completion', messages: [...prompt.messages, ...completion.messages] }
    : undefined;
}

function withSystem(c: Conversation, system: unknown): Conversation {
  if (typeof system !== 'string' || system === '' || c.messages[0]?.role === 'system') return c;
  return { ...c, messages: [{ role: 'system', content: system }, ...c.messages] };
}

/** What a record is, for messages about one that has no known format. */
export function describeRecord(record: unknown): string {
  if (isObject(record))
    return Object.keys(record).length === 0
      ? 'an empty object'
      : `an object with fields ${Object.keys(record).join(', ')}`;
  return Array.isArray(record) ? 'an array' : record === null ? 'null' : `a ${typeof record}`;
}
