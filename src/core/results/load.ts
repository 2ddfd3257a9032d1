// Which files are results, and reading any of them into ModelResults. Detection looks at the name
// first (cheap, for the workspace walk) and then at the content, so a `results.json` of some other
// tool or a log without scores is not listed.
import { CheckpointError } from '../errors';
import { openRegular, readRegularText } from '../util/files';
import * as path from 'node:path';
import { readLmEval } from './lmEval';
import { OPENCOMPASS_HEADER, parseOpenCompass } from './openCompass';
import { TAIA_RESULTS_FORMAT, TAIA_RESULTS_SUFFIX, readTaiaResults } from './taiaFormat';
import { parseTaiaLog, TAIA_LOG_LINE } from './taiaLog';
import { LoadOptions, ModelResults, ResultFormat, ResultsError } from './types';

/** Globs of the names formatByName accepts, for workspace walks and file watchers. */
export const RESULT_FILE_GLOBS = [`**/*${TAIA_RESULTS_SUFFIX}`, '**/results*.json', '**/summary*.csv', '**/*.log', '**/*.txt'];
export const RESULT_FILE_WATCH = `**/{*${TAIA_RESULTS_SUFFIX},results*.json,summary*.csv,*.log,*.txt}`;

/** The format a file name suggests, before its content is looked at. */
export function formatByName(file: string): ResultFormat | undefined {
  const name = path.basename(file);
  if (name.endsWith(TAIA_RESULTS_SUFFIX)) return 'taia-results';
  if (/^results.*\.json$/i.test(name)) return 'lm-eval';
  if (/^summary.*\.csv$/i.test(name)) return 'opencompass';
  if (/\.(log|txt)$/i.test(name)) return 'taia-log';
  return undefined;
}

/** Bytes read from each end of a file to sniff it: scores sit at the end of a long training log. */
const SNIFF_BYTES = 64 * 1024;

async function head(file: string): Promise<string> {
  const h = await openRegular(file);
  try {
    const { size } = await h.stat();
    if (size <= 2 * SNIFF_BYTES) return (await h.readFile()).toString('utf-8');
    const a = Buffer.alloc(SNIFF_BYTES);
    const b = Buffer.alloc(SNIFF_BYTES);
    await h.read(a, 0, SNIFF_BYTES, 0);
    await h.read(b, 0, SNIFF_BYTES, size - SNIFF_BYTES);
    return `${a.toString('utf-8')}\n${b.toString('utf-8')}`;
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
      return /^\s*\{[\s\S]*"results"\s*:\s*\{/.test(text) && /"(versions|n-shot|higher_is_better|config|configs|results)"\s*:/.test(text);
    case 'opencompass':
      return text.replace(/^\uFEFF/, '').startsWith(OPENCOMPASS_HEADER.join(','));
    case 'taia-log':
      return text.split(/\r?\n/).some((l) => TAIA_LOG_LINE.test(l));
  }
}

/**
 * The format of a result file, or undefined when the file is not one (or cannot be read): for the
 * workspace index, which calls it for every candidate name.
 */
export async function detectResultFile(file: string): Promise<ResultFormat | undefined> {
  const format = formatByName(file);
  if (!format) return undefined;
  try {
    return sniff(format, await head(file)) ? format : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Reads a result file into one ModelResults per model it holds (an OpenCompass summary has a column
 * per model). Every failure is a ResultsError naming the file.
 */
export async function loadResults(file: string, opts: LoadOptions = {}): Promise<ModelResults[]> {
  const format = formatByName(file);
  if (!format) throw new ResultsError(file, `not a result file name (${TAIA_RESULTS_SUFFIX}, results_*.json, summary_*.csv, *.log or *.txt)`);
  let text: string;
  try {
    text = await readRegularText(file);
  } catch (e) {
    throw new ResultsError(file, e instanceof CheckpointError ? e.problem : (e as Error).message);
  }
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
