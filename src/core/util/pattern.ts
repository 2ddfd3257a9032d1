import { RE2JS } from 're2js';

/**
 * A regular expression from a file (PEFT rank_pattern/alpha_pattern keys, recipe `name:` rules),
 * matched by RE2's linear-time engine: a pattern such as `(a+)+$` cannot backtrack for ever on a long
 * name. RE2 has no look-around or back-references; such a pattern is refused where it is read.
 */
export interface Pattern {
  readonly source: string;
  /** True when the pattern matches somewhere in `text` (RegExp.test semantics). */
  test(text: string): boolean;
}

/** Compiles `source`, or throws an Error whose message says why (the caller names the file and field). */
export function compilePattern(source: string): Pattern {
  let re: RE2JS;
  try {
    re = RE2JS.compile(source);
  } catch (e) {
    throw new Error(
      `is not a regular expression the linear-time matcher accepts (${(e as Error).message}; look-around and back-references are not supported)`,
      { cause: e },
    );
  }
  return { source, test: (text) => re.matcher(text).find() };
}
