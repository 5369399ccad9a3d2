/**
 * The `cpgkit` command. Each subcommand lives in `commands/<name>.ts` and is listed in
 * `commands/index.ts`. Errors go to stderr as one line; the exit code is non-zero.
 * @module
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { commands } from './commands/index.js';
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
  let exitCode = 0;
  for (const register of commands) {
    register(program, (code) => {
      exitCode = code;
    });
  }
  try {
    await program.parseAsync(argv, { from: 'user' });
    return exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      // help and version exit 0; usage errors were already printed by commander
      return err.exitCode;
    }
    const e = err instanceof Error ? err : new Error(String(err));
    process.stderr.write(`cpgkit: ${e instanceof UsageError ? '' : `${e.name}: `}${e.message}\n`);
    return e instanceof UsageError ? 2 : 1;
  }
}
