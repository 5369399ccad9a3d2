/**
 * The COMMAND of `cpgkit lock` and `cpgkit leader`: run it with the lock's environment, stop it
 * (SIGTERM, then SIGKILL after a grace period), and its exit code as a shell reports it.
 * @module
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { constants } from 'node:os';
import { UsageError } from './errors.js';

/** Exit code of a COMMAND that cannot be started (a shell's "command not found"). */
export const EXIT_CANNOT_RUN = 127;

/**
 * The exit code a shell gives a process ended by `signal`: 128 + its number (`SIGSEGV`: 139),
 * from `os.constants.signals`.
 */
export function signalExitCode(signal: NodeJS.Signals): number {
  const n = (constants.signals as Partial<Record<string, number>>)[signal];
  return 128 + (n ?? 0);
}

/** Run COMMAND; resolves with its exit code (128 + signal number when a signal ended it). */
export function runChild(
  argv: readonly string[],
  env: Record<string, string>,
): { child: ChildProcess; exited: Promise<number> } {
  const [file, ...args] = argv;
  if (file === undefined) throw new UsageError('no COMMAND given');
  const child = spawn(file, args, { stdio: 'inherit', env: { ...process.env, ...env } });
  const exited = new Promise<number>((resolve) => {
    child.once('error', (err) => {
      process.stderr.write(`cpgkit: cannot run ${file}: ${err.message}\n`);
      resolve(EXIT_CANNOT_RUN);
    });
    child.once('exit', (code, sig) => {
      resolve(code ?? (sig === null ? 128 : signalExitCode(sig)));
    });
  });
  return { child, exited };
}

/** SIGTERM the child, then SIGKILL after `graceMs`; resolves when it exited. */
export async function stopChild(
  child: ChildProcess,
  exited: Promise<number>,
  graceMs: number,
): Promise<number> {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  const timer = setTimeout(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }, graceMs);
  try {
    return await exited;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * COMMAND as flock takes it: `-c "command"` (run by `sh -c`), or the arguments after NAME
 * (with or without `--`).
 */
export function commandOf(shell: string | undefined, argv: readonly string[]): string[] {
  // after NAME, options are passed through as they are, `--` included
  const args = argv[0] === '--' ? argv.slice(1) : argv;
  if (shell !== undefined) {
    if (args.length > 0)
      throw new UsageError('give COMMAND either with -c "command" or as arguments, not both');
    return ['/bin/sh', '-c', shell];
  }
  // flock's `NAME -c "command"` after NAME: the option lands among the arguments
  if ((args[0] === '-c' || args[0] === '--command') && args.length === 2)
    return ['/bin/sh', '-c', args[1]!];
  if (args.length === 0) throw new UsageError('no COMMAND given (arguments after NAME, or -c)');
  return [...args];
}
