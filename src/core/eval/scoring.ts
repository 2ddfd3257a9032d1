// Answer extraction and normalisation for generation tasks, as rule-based exact match scores them
// (the TAIA paper's evaluation; SQuAD-style normalisation).

const NUMBER = /-?\d[\d,]*(?:\.\d+)?/g;

/**
 * The answer in a model's output: what follows "the answer is" when it says so, else the last number
 * when the expected answer is a number, else the first non-empty line.
 */
export function extractAnswer(output: string, expectsNumber: boolean): string {
  const stated = /answer is[:\s]*([^\n]+)/i.exec(output);
  if (stated) return stated[1].trim();
  if (expectsNumber) {
    const numbers = output.match(NUMBER);
    if (numbers) return numbers[numbers.length - 1];
  }
  return (
    output
      .split('\n')
      .find((l) => l.trim())
      ?.trim() ?? ''
  );
}

/** Lower case, no surrounding punctuation, articles or extra spaces; numbers in one canonical form. */
export function normalizeAnswer(text: string): string {
  const t = text.trim().replace(/^[\s"'`([{]+|[\s"'`.,;:!?)\]}]+$/g, '');
  const asNumber = t.replace(/,/g, '');
  if (/^-?\d+(\.\d+)?$/.test(asNumber)) return String(Number(asNumber));
  return t
    .toLowerCase()
    .replace(/\b(a|an|the)\b/g, ' ')
    .replace(/[^\p{L}\p{N}\s]/gu, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

export function isNumeric(text: string): boolean {
  return /^-?\d[\d,]*(\.\d+)?$/.test(text.trim());
}

/** Exact match of the extracted, normalised answer against any accepted answer. */
export function exactMatch(output: string, answers: string[]): { extracted: string; correct: boolean } {
  const extracted = extractAnswer(output, answers.some(isNumeric));
  const got = normalizeAnswer(extracted);
  return { extracted, correct: answers.some((a) => normalizeAnswer(a) === got) };
}
