// The demo's synthetic world, generated from a seed. It mirrors TAIA's setting:
// - pretraining gives the base model knowledge (capitals of invented countries, colours of invented
//   animals, small sums), each fact stated in several phrasings, asked in its own "Q: … / Answer: …"
//   style and as a bare question answered bare, in running text so that recall is tied neither to one
//   sentence nor to its place;
// - a diagnostic task asks for that knowledge in the pretraining style (a raw prompt, no chat template):
//   whether a model still holds it, whatever format it follows;
// - the downstream tasks ask for it through the chat template, which wants the bare answer;
// - the fine-tuning data teaches that format on another distribution: word games, and questions about
//   the animals, nothing about countries or sums (general instruction data holds questions too, but
//   not the benchmarks').
// So the base knows but does not follow the format, a full fine-tune follows it but overwrites what
// the base knew, and TAIA (attention from the fine-tune, feed-forward from the base) may get both.
// The project's seeded generator makes it the same world on every machine.
import { rng } from '../util/random';

const ONSETS = [
  'b',
  'd',
  'f',
  'g',
  'k',
  'l',
  'm',
  'n',
  'p',
  'r',
  's',
  't',
  'v',
  'z',
  'br',
  'dr',
  'kl',
  'st',
  'tr',
  'sh',
];
const VOWELS = ['a', 'e', 'i', 'o', 'u', 'ai', 'ei', 'ou'];
const CODAS = ['', '', 'n', 'r', 's', 'l', 'k', 'th'];

function word(random: () => number, syllables: number): string {
  let w = '';
  for (let i = 0; i < syllables; i++)
    w +=
      ONSETS[Math.floor(random() * ONSETS.length)] +
      VOWELS[Math.floor(random() * VOWELS.length)] +
      CODAS[Math.floor(random() * CODAS.length)];
  return w[0].toUpperCase() + w.slice(1);
}

export interface DemoWorld {
  facts: { country: string; capital: string }[];
  animals: { animal: string; colour: string }[];
  pretraining: string[];
  /** Downstream tasks (chat template) and the knowledge diagnostic (`knowledge`, raw prompts). */
  tasks: Record<'capitals' | 'capitals_mc' | 'sums' | 'knowledge', Record<string, unknown>[]>;
  finetuning: { instruction: string; output: string }[];
}

/** The diagnostic task: the base's knowledge asked in its own style, not a downstream task. */
export const KNOWLEDGE_TASK = 'knowledge';

/**
 * The demo base's chat template: a user turn is "Q: …" on its line, the assistant's answer follows
 * bare. Downstream tasks and fine-tuning data go through it; pretraining never does.
 */
export const DEMO_CHAT_TEMPLATE =
  "{{ bos_token }}{% for m in messages %}{% if m.role == 'user' %}Q: {{ m.content }}\n" +
  "{% elif m.role == 'assistant' %}{{ m.content }}{{ eos_token }}{% if not loop.last %}\n{% endif %}" +
  '{% else %}{{ m.content }}\n{% endif %}{% endfor %}';

/** Times each sentence is in the corpus, each time among other sentences; the longest passage (bytes). */
const PASSES = 4;
const PASSAGE_BYTES = 120;

const COLOURS = ['red', 'blue', 'green', 'yellow', 'black', 'white', 'brown', 'grey'];

export function makeWorld(seed = 7, countries = 64, animals = 32): DemoWorld {
  const random = rng(seed);
  const used = new Set();
  const unique = (n: number): string => {
    for (;;) {
      const w = word(random, n);
      if (!used.has(w)) {
        used.add(w);
        return w;
      }
    }
  };
  const facts = Array.from({ length: countries }, () => ({ country: unique(2), capital: unique(2) }));
  const fauna = Array.from({ length: animals }, () => ({
    animal: unique(2).toLowerCase(),
    colour: COLOURS[Math.floor(random() * COLOURS.length)],
  }));
  const sums: { a: number; b: number }[] = [];
  for (let a = 1; a <= 9; a++) for (let b = 1; b <= 9; b++) sums.push({ a, b });
  // The base's own question style: "Q: …" then "Answer: …". Asked the same question in the chat
  // template (which ends at the question, see DEMO_CHAT_TEMPLATE) it knows the answer but says it its
  // own way, with the "Answer:" frame that exact match (the bare answer) does not accept.
  const qa = (q: string, a: string) => `Q: ${q}\nAnswer: ${a}`;
  // A second, terse style: a bare question line, answered bare on the next line. So the base can
  // already retrieve a fact straight after a question; what it does not do is answer that way after
  // the chat template's "Q: …", which in its corpus always takes the framed answer. Fine-tuning has to
  // route the template to the terse mode, a matter of reading the context, which attention does.
  const terse = (q: string, a: string) => `${q}\n${a}`;
  const sentences = [
    ...facts.flatMap(({ country: c, capital: k }) => [
      `The capital of ${c} is ${k}.`,
      `${k} is the capital of ${c}.`,
      `${c}'s capital is ${k}.`,
      `In ${c}, the government sits in ${k}.`,
      `Travellers to ${c} arrive in its capital, ${k}.`,
      qa(`What is the capital of ${c}?`, k),
      qa(`Which city is the capital of ${c}?`, k),
      terse(`What is the capital of ${c}?`, k),
    ]),
    ...fauna.flatMap(({ animal: a, colour }) => [
      `The ${a} is ${colour}.`,
      `A ${a} has ${colour} fur.`,
      `Every ${a} you meet is ${colour}.`,
      qa(`What colour is the ${a}?`, colour),
      terse(`What colour is the ${a}?`, colour),
    ]),
    ...sums.flatMap(({ a, b }) => [
      `${a} plus ${b} is ${a + b}.`,
      qa(`What is ${a} plus ${b}?`, String(a + b)),
      terse(`What is ${a} plus ${b}?`, String(a + b)),
    ]),
  ];
  // Running text, not one sentence per document: each sentence comes back in passages of others, in
  // several orders, so that recall does not hang on its place in the sequence (a prompt wrapped in a
  // chat template puts the question elsewhere).
  const pretraining: string[] = [];
  for (let pass = 0; pass < PASSES; pass++) {
    const order = sentences.map((text) => ({ text, key: random() })).sort((x, y) => x.key - y.key);
    let passage = '';
    for (const { text } of order) {
      if (passage && passage.length + 1 + text.length > PASSAGE_BYTES) {
        pretraining.push(passage);
        passage = '';
      }
      passage = passage ? `${passage}\n${text}` : text;
    }
    if (passage) pretraining.push(passage);
  }

  const tasks = {
    capitals: facts.map((f, i) => ({ id: `c${i}`, prompt: `What is the capital of ${f.country}?`, answer: f.capital })),
    capitals_mc: facts.map((f, i) => {
      const others = facts.filter((g) => g !== f);
      const wrong = [0, 1].map(() => others[Math.floor(random() * others.length)].capital);
      const correct = Math.floor(random() * 3);
      const choices = [...wrong];
      choices.splice(correct, 0, f.capital);
      return { id: `m${i}`, prompt: `What is the capital of ${f.country}?`, choices, answer: correct };
    }),
    sums: sums.map(({ a, b }, i) => ({ id: `s${i}`, prompt: `What is ${a} plus ${b}?`, answer: String(a + b) })),
    [KNOWLEDGE_TASK]: facts.map((f, i) => ({
      id: `k${i}`,
      prompt: `The capital of ${f.country} is`,
      answer: f.capital,
      template: false,
    })),
  };

  // Fine-tuning data in the instruction format: word games and the animals' colours; nothing about
  // countries or sums.
  const vocabulary = Array.from({ length: 120 }, () => word(random, 1 + Math.floor(random() * 2)).toLowerCase());
  const games: ((w: string) => [string, string])[] = [
    (w) => [`Spell "${w}" backwards.`, [...w].reverse().join('')],
    (w) => [`Write "${w}" in capital letters.`, w.toUpperCase()],
    (w) => [`How many letters are in "${w}"?`, String(w.length)],
    (w) => [`What is the first letter of "${w}"?`, w[0]],
  ];
  const questions = fauna.flatMap(({ animal: a, colour }): [string, string][] => [
    [`What colour is the ${a}?`, colour],
    [`Which colour does a ${a} have?`, colour],
  ]);
  const finetuning = [...vocabulary.flatMap((w, i) => [games[i % 4](w), games[(i + 1) % 4](w)]), ...questions].map(
    ([q, a]) => ({ instruction: q, output: a }),
  );
  return { facts, animals: fauna, pretraining, tasks, finetuning };
}
