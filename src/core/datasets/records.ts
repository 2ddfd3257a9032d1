// Record-level knowledge of the dataset formats fine-tuning tools read, shared by detection and reading.

export type DatasetFormat = 'alpaca' | 'sharegpt' | 'messages' | 'prompt-completion' | 'text' | 'unknown';

export interface Turn {
  role: string;
  content: string;
}

/** A dataset row in the one shape previews and trainers use: a conversation. */
export interface DatasetRow {
  messages: Turn[];
  raw: unknown;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isTurnList = (v: unknown, role: string, content: string) => Array.isArray(v) && v.length > 0 && v.every((t) => isObject(t) && typeof t[role] === 'string' && typeof t[content] === 'string');

/** The format of one record, by its fields (the same rules LLaMA-Factory and TRL apply). */
export function recordFormat(record: unknown): DatasetFormat {
  if (!isObject(record)) return 'unknown';
  if (isTurnList(record.messages, 'role', 'content')) return 'messages';
  if (isTurnList(record.conversations, 'from', 'value')) return 'sharegpt';
  if (typeof record.instruction === 'string' && typeof record.output === 'string') return 'alpaca';
  if (typeof record.prompt === 'string' && typeof record.completion === 'string') return 'prompt-completion';
  if (typeof record.text === 'string') return 'text';
  return 'unknown';
}

/** The format most sampled records share; 'unknown' when none has a known one. */
export function majorityFormat(records: unknown[]): DatasetFormat {
  const counts = new Map<DatasetFormat, number>();
  for (const r of records) {
    const f = recordFormat(r);
    if (f !== 'unknown') counts.set(f, (counts.get(f) ?? 0) + 1);
  }
  return [...counts.entries()].sort((a, b) => b[1] - a[1])[0]?.[0] ?? 'unknown';
}

const SHAREGPT_ROLES: Record<string, string> = { human: 'user', user: 'user', gpt: 'assistant', assistant: 'assistant', system: 'system', tool: 'tool', function_call: 'assistant', observation: 'tool' };

/** Normalises a record of a known format to a conversation; undefined when it is not one. */
export function toConversation(record: unknown): Turn[] | undefined {
  if (!isObject(record)) return typeof record === 'string' ? [{ role: 'text', content: record }] : undefined;
  switch (recordFormat(record)) {
    case 'messages':
      return (record.messages as Record<string, string>[]).map((t) => ({ role: t.role, content: t.content }));
    case 'sharegpt':
      return (record.conversations as Record<string, string>[]).map((t) => ({ role: SHAREGPT_ROLES[t.from] ?? t.from, content: t.value }));
    case 'alpaca': {
      const input = typeof record.input === 'string' && record.input.trim() !== '' ? `\n\n${record.input}` : '';
      const system = typeof record.system === 'string' && record.system !== '' ? [{ role: 'system', content: record.system }] : [];
      return [...system, { role: 'user', content: `${record.instruction as string}${input}` }, { role: 'assistant', content: record.output as string }];
    }
    case 'prompt-completion':
      return [{ role: 'user', content: record.prompt as string }, { role: 'assistant', content: record.completion as string }];
    case 'text':
      return [{ role: 'text', content: record.text as string }];
    default:
      return undefined;
  }
}
