/**
 * `cpgkit lock --group G [--timeout S] [--ttl S] NAME -- COMMAND...`: like `flock`, across the
 * cluster. A client of the lock service that `cpgkit serve --group G` holds on the nodes (it
 * holds no state itself). Acquire the fenced lock NAME, run COMMAND with
 * `CPGKIT_FENCING_TOKEN` in its environment, release when it exits and exit with its code.
 * If the lock is lost while COMMAND runs, COMMAND gets SIGTERM (SIGKILL after `--grace`
 * seconds) and cpgkit exits with code 3, saying why. `--timeout` bounds the whole wait: for a
 * replica (exit 4 when none answers: run `cpgkit serve`), for the lock service to be ready in a
 * quorate component, then for the grant (exit 1, saying which it was still waiting for).
 * Without `--timeout`, the wait for a replica is bounded by 10 s and the grant is waited for.
 * @module
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { TimeoutError } from '@cpgkit/core';
import { LockLostError, type Locks } from '@cpgkit/locks';
import { DEFAULT_REPLICA_WAIT_S, openLocksClient, SyncTimeoutError } from '../clients.js';
import { NoAgentError } from '../errors.js';
import { EXIT_FAILURE, EXIT_LOST, EXIT_NO_REPLICA } from '../exit-codes.js';
import { UsageError, type RegisterCommand } from '../util.js';

export { EXIT_LOST };
/** Exit code when `--timeout` ran out before the lock was granted. */
export const EXIT_TIMEOUT = EXIT_FAILURE;

interface LockCliOptions {
  group: string;
  data?: string;
  timeout?: number;
  ttl?: number;
  grace: number;
  verbose?: boolean;
}

/** Parse a non-negative number of seconds. */
export function seconds(flag: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n < 0)
      throw new UsageError(`${flag} wants a number of seconds, got '${value}'`);
    return n;
  };
}

/** Run COMMAND; resolves with its exit code (128 + signal number when killed). */
export function runChild(
  argv: readonly string[],
  env: Record<string, string>,
): { child: ChildProcess; exited: Promise<number> } {
  const [file, ...args] = argv;
  if (file === undefined) throw new UsageError('no COMMAND given after --');
  const child = spawn(file, args, { stdio: 'inherit', env: { ...process.env, ...env } });
  const exited = new Promise<number>((resolve) => {
    child.once('error', (err) => {
      process.stderr.write(`cpgkit: cannot run ${file}: ${err.message}\n`);
      resolve(127);
    });
    child.once('exit', (code, sig) => {
      resolve(code ?? 128 + (sig === null ? 0 : signalNumber(sig)));
    });
  });
  return { child, exited };
}

function signalNumber(sig: NodeJS.Signals): number {
  const table: Partial<Record<NodeJS.Signals, number>> = {
    SIGHUP: 1,
    SIGINT: 2,
    SIGQUIT: 3,
    SIGKILL: 9,
    SIGTERM: 15,
  };
  return table[sig] ?? 1;
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

/** Abort on SIGINT/SIGTERM; returns the controller and the cleanup. */
export function interruptSignal(): { ctl: AbortController; off: () => void } {
  const ctl = new AbortController();
  const on = (sig: NodeJS.Signals): void => ctl.abort(new Error(`interrupted by ${sig}`));
  process.on('SIGINT', on);
  process.on('SIGTERM', on);
  return {
    ctl,
    off: () => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
    },
  };
}

/** `--verbose` lines. */
export const verboseLog = (l: string): void => void process.stderr.write(`cpgkit: ${l}\n`);

/** Warn that `--data` does nothing on a client (it used to make the process a replica). */
export function warnDataIgnored(command: string, group: string, data: string | undefined): void {
  if (data === undefined) return;
  process.stderr.write(
    `cpgkit: warning: --data is ignored: \`cpgkit ${command}\` is a client and holds no state; ` +
      `the state lives in \`cpgkit serve --group ${group} --data DIR\` on the nodes\n`,
  );
}

/** Print a `NoAgentError` and set its exit code; `false` for any other error. */
export function reportNoAgent(err: unknown, what: string, setExit: (c: number) => void): boolean {
  if (!(err instanceof NoAgentError)) return false;
  process.stderr.write(`cpgkit: ${what}: ${err.message}\n`);
  setExit(EXIT_NO_REPLICA);
  return true;
}

/** Registers `cpgkit lock`. */
export const registerLock: RegisterCommand = (program, setExit) => {
  program
    .command('lock')
    .description('hold the fenced lock NAME across the cluster while COMMAND runs (like flock)')
    .requiredOption('--group <group>', 'the CPG group of the lock service')
    .option('--data <dir>', 'ignored (a client holds no state; `cpgkit serve --data` does)')
    .option(
      '--timeout <s>',
      'give up after this many seconds, the wait for a replica (exit 4) and for quorum/sync included (exit 1)',
      seconds('--timeout'),
    )
    .option(
      '--ttl <s>',
      'a lease: the cluster releases the lock after this many seconds',
      seconds('--ttl'),
    )
    .option('--grace <s>', 'after SIGTERM, wait this long before SIGKILL', seconds('--grace'), 5)
    .option('--verbose', 'log sync decisions on stderr')
    .argument('<name>', 'the lock name')
    .argument('<command...>', 'the command to run, after --')
    .action(async (name: string, command: string[], opts: LockCliOptions) => {
      warnDataIgnored('lock', opts.group, opts.data);
      const { ctl, off } = interruptSignal();
      // --timeout covers the whole wait: a replica, syncing in a quorate component, the grant
      const deadline =
        opts.timeout === undefined ? undefined : performance.now() + opts.timeout * 1000;
      const left = (): number | undefined =>
        deadline === undefined ? undefined : Math.max(0, deadline - performance.now());
      let locks: Locks | undefined;
      try {
        try {
          const replicaWaitMs = Math.min(
            left() ?? Infinity,
            opts.timeout === undefined ? DEFAULT_REPLICA_WAIT_S * 1000 : Infinity,
          );
          locks = await openLocksClient({
            group: opts.group,
            replicaWaitMs,
            signal: ctl.signal,
            ...(opts.verbose ? { log: verboseLog } : {}),
            readyWaitMs: left(),
          });
        } catch (err) {
          if (reportNoAgent(err, `lock '${name}'`, setExit)) return;
          if (err instanceof SyncTimeoutError) {
            process.stderr.write(
              `cpgkit: lock '${name}': timed out after ${opts.timeout} s waiting for ${err.waitingFor}\n`,
            );
            setExit(EXIT_TIMEOUT);
            return;
          }
          throw err;
        }
        let lock;
        try {
          const timeout = left();
          lock = await locks.acquire(name, {
            signal: ctl.signal,
            ...(timeout === undefined ? {} : { timeout }),
            ...(opts.ttl === undefined ? {} : { ttl: Math.max(1, Math.round(opts.ttl * 1000)) }),
          });
        } catch (err) {
          if (err instanceof TimeoutError) {
            // the machine may have lost quorum meanwhile: acquire waits for it again
            const status = locks.machine.status;
            process.stderr.write(
              `cpgkit: lock '${name}': timed out after ${opts.timeout} s waiting for the lock` +
                (status === 'ready' ? '' : ` (status ${status}: no quorum/sync here)`) +
                '\n',
            );
            setExit(EXIT_TIMEOUT);
            return;
          }
          throw err;
        }
        const { child, exited } = runChild(command, {
          CPGKIT_FENCING_TOKEN: lock.token.toString(),
          CPGKIT_LOCK_NAME: name,
        });
        const forward = (sig: NodeJS.Signals): void => void child.kill(sig);
        process.on('SIGINT', forward);
        process.on('SIGTERM', forward);
        const lost = new Promise<LockLostError>((resolve) =>
          lock.signal.addEventListener(
            'abort',
            () => resolve(lock.signal.reason as LockLostError),
            { once: true },
          ),
        );
        const first = await Promise.race([exited, lost]);
        process.off('SIGINT', forward);
        process.off('SIGTERM', forward);
        if (first instanceof LockLostError) {
          process.stderr.write(`cpgkit: ${first.message}; stopping the command\n`);
          await stopChild(child, exited, opts.grace * 1000);
          process.stderr.write(
            `cpgkit: lock '${name}' was lost while the command ran (${first.reason})\n`,
          );
          setExit(EXIT_LOST);
          return;
        }
        await lock.release();
        setExit(first);
      } finally {
        off();
        await locks?.close();
      }
    });
};
