// The demo's synthetic world, generated from a seed. It mirrors TAIA's setting:
// - pretraining gives the base model knowledge (capitals of invented countries, small sums) as plain
//   statements and as questions in its own "Q: … A: …" style;
// - the downstream tasks ask for that knowledge in an instruction format the base has never seen;
// - the fine-tuning data teaches that instruction format, but in another domain (word games): out of
//   distribution for the downstream tasks, as general instruction data is for the paper's benchmarks.
// So the base knows but does not follow the format, a full fine-tune follows it but may overwrite what
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
  pretraining: string[];
  tasks: Record<'capitals' | 'capitals_mc' | 'sums', Record<string, unknown>[]>;
  finetuning: { instruction: string; output: string }[];
}

export function makeWorld(seed = 7, countries = 48): DemoWorld {
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
  const sums: { a: number; b: number }[] = [];
  for (let a = 1; a <= 9; a++) for (let b = 1; b <= 9; b++) sums.push({ a, b });
  const qa = (q: string, a: string) => `Q: ${q}\nA: ${a}`;
  const pretraining = [
    ...facts.flatMap((f) => [
      `The capital of ${f.country} is ${f.capital}.`,
      `${f.capital} is the capital city of ${f.country}.`,
      `In ${f.country}, the government sits in ${f.capital}.`,
      qa(`What is the capital of ${f.country}?`, f.capital),
    ]),
    ...sums.flatMap(({ a, b }) => [`${a} plus ${b} is ${a + b}.`, qa(`What is ${a} plus ${b}?`, String(a + b))]),
  ];

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
  };

  // Fine-tuning data: word games in the instruction format, nothing about countries or sums.
  const vocabulary = Array.from({ length: 120 }, () => word(random, 1 + Math.floor(random() * 2)).toLowerCase());
  const games: ((w: string) => [string, string])[] = [
    (w) => [`Spell "${w}" backwards.`, [...w].reverse().join('')],
    (w) => [`Write "${w}" in capital letters.`, w.toUpperCase()],
    (w) => [`How many letters are in "${w}"?`, String(w.length)],
    (w) => [`What is the first letter of "${w}"?`, w[0]],
  ];
  const finetuning = vocabulary
    .flatMap((w, i) => [games[i % 4](w), games[(i + 1) % 4](w)])
    .map(([q, a]) => ({ instruction: q, output: a }));
  return { facts, pretraining, tasks, finetuning };
}
