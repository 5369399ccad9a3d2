/**
 * The `cpgkit` command. Each subcommand lives in `commands/<name>.ts` and is listed in
 * `commands/index.ts`. Errors go to stderr as one line; the exit code (see `exit-codes.ts`)
 * says what happened.
 * @module
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { NoReplicaError } from '@cpgkit/statemachine';
import { commands } from './commands/index.js';
import { WriteOutcomeUnknownError } from './errors.js';
import {
  EXIT_FAILURE,
  EXIT_NO_REPLICA,
  EXIT_OK,
  EXIT_OUTCOME_UNKNOWN,
  EXIT_USAGE,
} from './exit-codes.js';
import { UsageError } from './util.js';

/**
 * The version of @cpgkit/cli, read from its package.json (one folder above both `src/` and
 * `dist/`), so that `cpgkit --version` says which release is installed.
 */
export const VERSION: string = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version: string;
  }
).version;

/** Run the CLI with `argv` (without `node` and the script). Resolves with the exit code. */
export async function main(argv: string[]): Promise<number> {
  const program = new Command('cpgkit')
    .description(
      'Corosync CPG for Node.js: groups, a replicated config store, locks and leader election',
    )
    .version(VERSION, '-V, --version', 'print the version of cpgkit and exit')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  let exitCode = EXIT_OK;
  for (const register of commands) {
    register(program, (code) => {
      exitCode = code;
    });
  }
  try {
    checkSubcommands(program, argv);
    await program.parseAsync(argv, { from: 'user' });
    return exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      // help and version exit 0; usage errors were already printed by commander
      return err.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    }
    const e = err instanceof Error ? err : new Error(String(err));
    process.stderr.write(`cpgkit: ${e instanceof UsageError ? '' : `${e.name}: `}${e.message}\n`);
    return exitCodeOf(e);
  }
}

/** The exit code of an error that ended a command. */
export function exitCodeOf(e: Error): number {
  if (e instanceof UsageError) return EXIT_USAGE;
  if (e instanceof NoReplicaError) return EXIT_NO_REPLICA;
  if (e instanceof WriteOutcomeUnknownError) return EXIT_OUTCOME_UNKNOWN;
  return EXIT_FAILURE;
}

/**
 * An unknown subcommand is a usage error (exit 2), also with `--help` (commander would print
 * the parent's help and exit 0).
 */
function checkSubcommands(program: Command, argv: readonly string[]): void {
  let cmd = program;
  const path = ['cpgkit'];
  for (const arg of argv) {
    if (arg.startsWith('-') || cmd.commands.length === 0) return;
    if (cmd === program && arg === 'help') return;
    const sub = cmd.commands.find((c) => c.name() === arg || c.aliases().includes(arg));
    if (sub === undefined) {
      throw new UsageError(
        `unknown command '${[...path, arg].join(' ')}' (see \`${path.join(' ')} --help\`)`,
      );
    }
    cmd = sub;
    path.push(arg);
  }
}
