// Which files are results, and reading any of them into ModelResults. Detection looks at the name
// first (cheap, for the workspace walk) and then at the content, so a `results.json` of some other
// tool or a log without scores is not listed, and an lm-eval file is found whatever it is called.
import { existsSync } from 'node:fs';
import { CheckpointError } from '../errors';
import { openRegular, readRegularText } from '../util/files';
import * as path from 'node:path';
import { readLmEval } from './lmEval';
import { parseOpenCompass, summaryTable } from './openCompass';
import { TAIA_RESULTS_FORMAT, TAIA_RESULTS_SUFFIX, readTaiaResults } from './taiaFormat';
import { parseTaiaLog, TAIA_LOG_LINE } from './taiaLog';
import { LoadOptions, ModelResults, ResultFormat, ResultsError } from './types';

/** Globs of the names candidateFormats accepts, for workspace walks and file watchers. */
export const RESULT_FILE_GLOBS = ['**/*.json', '**/summary*.csv', '**/summary*.md', '**/*.log', '**/*.txt'];
export const RESULT_FILE_WATCH = '**/{*.json,summary*.csv,summary*.md,*.log,*.txt}';

/**
 * The formats a file name allows, most likely first; the content decides among them. Any `.json`
 * may be lm-eval's, since before 0.4.3 it wrote whatever `--output_path` said; its per-example
 * `samples_*.json` files are read with their results file, not listed.
 */
export function candidateFormats(file: string): ResultFormat[] {
  const name = path.basename(file);
  if (name.endsWith(TAIA_RESULTS_SUFFIX)) return ['taia-results'];
  if (/\.json$/i.test(name)) return /^samples_/i.test(name) ? [] : ['lm-eval'];
  if (/^summary.*\.(csv|md)$/i.test(name)) return ['opencompass'];
  if (/^summary.*\.txt$/i.test(name)) return ['opencompass', 'taia-log'];
  if (/\.(log|txt)$/i.test(name)) return ['taia-log'];
  return [];
}

/** Bytes read from each end of a file to sniff it: scores sit at the end of a long training log. */
const SNIFF_BYTES = 64 * 1024;

async function head(file: string): Promise<{ text: string; whole: boolean }> {
  const h = await openRegular(file);
  try {
    const { size } = await h.stat();
    if (size <= 2 * SNIFF_BYTES) return { text: (await h.readFile()).toString('utf-8'), whole: true };
    const a = Buffer.alloc(SNIFF_BYTES);
    const b = Buffer.alloc(SNIFF_BYTES);
    await h.read(a, 0, SNIFF_BYTES, 0);
    await h.read(b, 0, SNIFF_BYTES, size - SNIFF_BYTES);
    return { text: `${a.toString('utf-8')}\n${b.toString('utf-8')}`, whole: false };
  } finally {
    await h.close();
  }
}

/** Whether `text` (a file's start, or both ends) looks like results of `format`. */
export function sniff(format: ResultFormat, text: string): boolean {
  switch (format) {
    case 'taia-results':
      return new RegExp(`"format"\\s*:\\s*"${TAIA_RESULTS_FORMAT}"`).test(text);
    case 'lm-eval':
      return (
        /^\s*\{[\s\S]*"results"\s*:\s*\{/.test(text) &&
        /"(versions|n-shot|higher_is_better|config|configs)"\s*:/.test(text)
      );
    case 'opencompass':
      return summaryTable(text) !== undefined;
    case 'taia-log':
      return text.split(/\r?\n/).some((l) => TAIA_LOG_LINE.test(l));
  }
}

/** A results_*.json that is not JSON at all: a broken result file, to be shown with its error, not skipped. */
const brokenResultsJson = (file: string, text: string, whole: boolean) => {
  if (!whole || !/^results.*\.json$/i.test(path.basename(file))) return false;
  try {
    JSON.parse(text);
    return false;
  } catch {
    return true;
  }
};

/**
 * The format of a result file, or undefined when the file is not one: for the workspace index and
 * folder walks, which call it for every candidate name. A file that has a result file's name but
 * cannot be read or parsed counts as one, so that its error is shown instead of the file vanishing.
 */
export async function detectResultFile(file: string): Promise<ResultFormat | undefined> {
  const formats = candidateFormats(file);
  if (formats.length === 0) return undefined;
  let text: string;
  let whole: boolean;
  try {
    ({ text, whole } = await head(file));
  } catch {
    // A missing file is no result file; one that exists but cannot be read is listed, and loading it says why.
    return existsSync(file) ? formats[0] : undefined;
  }
  return formats.find((f) => sniff(f, text)) ?? (brokenResultsJson(file, text, whole) ? 'lm-eval' : undefined);
}

/**
 * Reads a result file into one ModelResults per model it holds (an OpenCompass summary has a column
 * per model). Every failure is a ResultsError naming the file.
 */
export async function loadResults(file: string, opts: LoadOptions = {}): Promise<ModelResults[]> {
  const formats = candidateFormats(file);
  if (formats.length === 0)
    throw new ResultsError(
      file,
      `not a result file name (${TAIA_RESULTS_SUFFIX}, lm-eval *.json, summary_*.csv/.txt/.md, *.log or *.txt)`,
    );
  let text: string;
  try {
    text = await readRegularText(file);
  } catch (e) {
    throw new ResultsError(file, e instanceof CheckpointError ? e.problem : (e as Error).message);
  }
  // The content decides (a summary_*.txt is OpenCompass's or a TAIA log); failing all, the likeliest reports why.
  const format = formats.find((f) => sniff(f, text)) ?? formats[0];
  try {
    switch (format) {
      case 'taia-results':
        return await readTaiaResults(file, text, opts);
      case 'lm-eval':
        return await readLmEval(file, text, opts);
      case 'opencompass':
        return parseOpenCompass(file, text);
      case 'taia-log':
        return [parseTaiaLog(file, text)];
    }
  } catch (e) {
    // Whatever went wrong inside, the caller gets one error type that names the file.
    if (e instanceof ResultsError) throw e;
    throw new ResultsError(file, e instanceof Error ? e.message : String(e));
  }
}
