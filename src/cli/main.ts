import { CheckpointError, CancelledError } from '../core/errors';
import { RecipeError } from '../core/merge/recipes';
import { TOOL_VERSION } from '../core/version';
import { inspectCommand } from './inspect';
import { mergeCommand } from './merge';
import { diffCommand } from './diff';
import { recipesCommand } from './recipes';
import { trainCommand } from './train';
import { evalCommand } from './eval';
import { benchCommand } from './bench';
import { Command, UsageError } from './usage';
import { terminalSafe } from '../core/util/format';
import { fsError, isSystemError } from '../core/util/files';
import { ExperimentError } from '../core/experiment/load';

const COMMANDS: Command[] = [trainCommand, evalCommand, mergeCommand, diffCommand, inspectCommand, recipesCommand, benchCommand];

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
      if (e instanceof UsageError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
        process.stderr.write(`taia: ${terminalSafe((e as Error).message)}\n(see 'taia --help')\n`);
        return 2;
      }
      if (e instanceof CheckpointError || e instanceof RecipeError || e instanceof ExperimentError) {
        process.stderr.write(`taia: error: ${terminalSafe(e.message)}\n`);
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
