import { CancelledError, InputError, OptionError, OutputExistsError } from '../core/errors';
import { UnknownTensorsError } from '../core/merge/plan';
import { SlurmError } from '../core/slurm/commands';
import { TOOL_VERSION } from '../core/version';
import { inspectCommand } from './inspect';
import { mergeCommand } from './merge';
import { diffCommand } from './diff';
import { recipesCommand } from './recipes';
import { trainCommand } from './train';
import { evalCommand } from './eval';
import { studyCommand } from './study';
import { benchCommand } from './bench';
import { Command, UsageError } from './usage';
import { terminalSafe } from '../core/util/format';
import { fsError, isSystemError } from '../core/util/files';
import { ExperimentError } from '../core/experiment/load';

const COMMANDS: Command[] = [
  trainCommand,
  evalCommand,
  studyCommand,
  mergeCommand,
  diffCommand,
  inspectCommand,
  recipesCommand,
  benchCommand,
];

function help(): string {
  const w = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    `taia ${TOOL_VERSION} - TAIA Lab command line: fine-tune, inspect checkpoints and merge fine-tunes the TAIA way`,
    '',
    'usage: taia <command> [options]     taia <command> --help',
    '',
    'commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(w)}  ${c.summary}`),
    '',
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(help());
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-V') {
    process.stdout.write(`${TOOL_VERSION}\n`);
    return 0;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) throw new UsageError(`unknown command '${name}'`);
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`usage: ${command.usage}\n\n${command.summary}\n`);
    return 0;
  }
  return command.run(rest);
}

/** Runs one command line and returns its exit status; every error is reported here (in-process callers: the fuzz harness). */
export function runCli(argv: string[]): Promise<number> {
  return main(argv).then(
    (code) => code,
    (e: unknown) => {
      if (e instanceof CancelledError) {
        process.stderr.write('\ntaia: cancelled; nothing was written\n');
        return 130;
      }
      if (
        e instanceof UsageError ||
        e instanceof OptionError ||
        (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')
      ) {
        // Core names the thing ("layer range 9-20 ..."); here it is the flag that set it.
        const message = e instanceof OptionError ? `--${e.option} ${e.problem}` : (e as Error).message;
        process.stderr.write(`taia: ${terminalSafe(message)}\n(see 'taia --help')\n`);
        return 2;
      }
      if (e instanceof InputError || e instanceof SlurmError || e instanceof ExperimentError) {
        // Core says what is wrong; the flag that changes it is the command line's to name.
        const message =
          e instanceof OutputExistsError
            ? `${e.file}: output folder exists (use --force to replace it)${e.notes.map((n) => `\nnote: ${n}`).join('')}`
            : `${e.message}${e instanceof UnknownTensorsError ? ' (--allow-unknown)' : ''}`;
        process.stderr.write(`taia: error: ${terminalSafe(message)}\n`);
      } else if (isSystemError(e)) {
        // A file-system failure (disk full, permission denied) is the user's to fix, not a bug: no stack.
        process.stderr.write(`taia: error: ${terminalSafe(fsError(e.path ?? '?', e).message)}\n`);
      } else {
        process.stderr.write(`taia: error: ${terminalSafe(e instanceof Error ? (e.stack ?? e.message) : String(e))}\n`);
      }
      return 1;
    },
  );
}

if (require.main === module) {
  void runCli(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
