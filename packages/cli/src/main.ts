/**
 * The `cpgkit` command. Each subcommand lives in `commands/<name>.ts` and is listed in
 * `commands/index.ts`. Errors go to stderr as one line; the exit code is non-zero.
 * @module
 */
import { Command, CommanderError } from 'commander';
import { commands } from './commands/index.js';
import { UsageError } from './util.js';

/** Run the CLI with `argv` (without `node` and the script). Resolves with the exit code. */
export async function main(argv: string[]): Promise<number> {
  const program = new Command('cpgkit')
    .description(
      'Corosync CPG for Node.js: groups, a replicated config store, locks and leader election',
    )
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
