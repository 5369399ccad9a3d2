/**
 * The `cpgkit` command. Each subcommand lives in `commands/<name>.ts` and is listed in
 * `commands/index.ts`. Errors go to stderr as one line (one JSON object in `--json` and
 * `-w json` modes); the exit code (see `exit-codes.ts`) says what happened.
 * @module
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { isTimeout } from '@cpgkit/core';
import { LockLostError } from '@cpgkit/locks';
import { NoQuorumError, NoReplicaError } from '@cpgkit/statemachine';
import { commands } from './commands/index.js';
import { errorJson } from './error-output.js';
import {
  ExitCodeError,
  KeyNotSetError,
  LockBusyError,
  StoreNotEmptyError,
  UsageError,
  WriteOutcomeUnknownError,
} from './errors.js';
import {
  EXIT_CONDITION,
  EXIT_FAILURE,
  EXIT_LOST,
  EXIT_NO_QUORUM,
  EXIT_NO_REPLICA,
  EXIT_OK,
  EXIT_OUTCOME_UNKNOWN,
  EXIT_TIMEOUT,
  EXIT_USAGE,
  exitCodeHelp,
} from './exit-codes.js';

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
  // JSON output asked for: from the parsed options once known, from argv for usage errors
  let json = jsonAsked(argv);
  const program = new Command('cpgkit')
    .description(
      'Corosync CPG for Node.js: groups, a replicated config store, locks and leader election',
    )
    .version(VERSION, '-V, --version', 'print the version of cpgkit and exit')
    .enablePositionalOptions()
    .exitOverride()
    .configureOutput({
      writeErr: (s) => process.stderr.write(s),
      outputError: (s, write) =>
        write(
          json
            ? `${JSON.stringify(errorJson(new UsageError(s.replace(/^error: /, '').trim()), EXIT_USAGE))}\n`
            : s,
        ),
    })
    .hook('preAction', (_self, action) => {
      const o = action.opts<{ json?: unknown; writeOut?: unknown }>();
      json = o.json === true || o.writeOut === 'json';
    });
  let exitCode = EXIT_OK;
  for (const register of commands) {
    register(program, (code) => {
      exitCode = code;
    });
  }
  addExitCodeHelp(program);
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
    const code = exitCodeOf(e);
    const shown = e instanceof ExitCodeError ? e.error : e;
    process.stderr.write(
      json
        ? `${JSON.stringify(errorJson(shown, code))}\n`
        : `cpgkit: ${shown instanceof UsageError ? '' : `${shown.name}: `}${shown.message}\n`,
    );
    return code;
  }
}

/** The exit code of an error that ended a command (see `exit-codes.ts`). */
export function exitCodeOf(e: Error): number {
  if (e instanceof ExitCodeError) return e.exitCode;
  if (e instanceof UsageError) return EXIT_USAGE;
  if (e instanceof KeyNotSetError || e instanceof LockBusyError || e instanceof StoreNotEmptyError)
    return EXIT_CONDITION;
  if (e instanceof LockLostError) return EXIT_LOST;
  if (e instanceof NoReplicaError) return EXIT_NO_REPLICA;
  if (e instanceof WriteOutcomeUnknownError) return EXIT_OUTCOME_UNKNOWN;
  if (e instanceof NoQuorumError || e.cause instanceof NoQuorumError) return EXIT_NO_QUORUM;
  if (isTimeout(e)) return EXIT_TIMEOUT;
  return EXIT_FAILURE;
}

/** Whether argv asks for JSON output (`--json`, `-w json`, `--write-out[=]json`) before `--`. */
function jsonAsked(argv: readonly string[]): boolean {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') return false;
    if (a === '--json' || a === '--write-out=json' || a === '-wjson') return true;
    if ((a === '-w' || a === '--write-out') && argv[i + 1] === 'json') return true;
  }
  return false;
}

/** The exit-code table at the end of every command's `--help`. */
function addExitCodeHelp(cmd: Command): void {
  cmd.addHelpText('after', exitCodeHelp());
  for (const sub of cmd.commands) addExitCodeHelp(sub);
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
