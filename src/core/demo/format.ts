// Whether a demo answer follows the downstream format, right or wrong: the base answers in its own
// "Answer: …" style (or rambles), a model that learnt the chat format answers with the bare word or
// number every downstream answer is.

/**
 * Whether an answer is in the expected form: its first non-empty line (what exact match scores), less
 * closing punctuation, is one word or one number.
 */
export function formatFollowed(prediction: string): boolean {
  const line = (prediction.split('\n').find((l) => l.trim()) ?? '').trim().replace(/[.,;:!?]+$/, '');
  return /^[\p{L}\p{N}]+$/u.test(line);
}
