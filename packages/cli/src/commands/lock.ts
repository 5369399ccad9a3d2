/**
 * `cpgkit lock [-n] [-s] [-w DURATION] [-E CODE] --group G NAME COMMAND... | -c "COMMAND"`:
 * `flock` across the cluster, with flock's flags. A client of the lock service that
 * `cpgkit serve --group G` holds on the nodes (it holds no state itself). Takes the write side
 * (or with `-s` a read share) of the read-write lock NAME, runs COMMAND with
 * `CPGKIT_FENCING_TOKEN` and `CPGKIT_LOCK_NAME` in its environment, releases when it exits and
 * exits with its code (128 + the signal's number when a signal ended it, as a shell does).
 *
 * Exits 1 (or `-E`'s code) when `-n` finds the lock busy, 6 (or `-E`'s code) when `-w` ran out
 * first, 7 at once in a minority (no quorum), 4 when no `cpgkit serve` answers, 3 when the lock
 * was lost while COMMAND ran (COMMAND got SIGTERM, then SIGKILL after `--grace`).
 * @module
 */
import { Option } from 'commander';
import { CpgError, TimeoutError } from '@cpgkit/core';
import { LockLostError, type Lock, type Locks } from '@cpgkit/locks';
import { NoQuorumError } from '@cpgkit/statemachine';
import { commandOf, runChild, stopChild } from '../child.js';
import { DEFAULT_REPLICA_WAIT_S, openLocksClient } from '../clients.js';
import { duration, formatDuration } from '../durations.js';
import { ExitCodeError, LockBusyError } from '../errors.js';
import { interruptSignal } from '../interrupt.js';
import {
  graceOption,
  groupOption,
  timeoutOption,
  UsageError,
  type RegisterCommand,
} from '../util.js';

interface LockCliOptions {
  group: string;
  data?: string;
  timeout?: number;
  nonblock?: boolean;
  shared?: boolean;
  exclusive?: boolean;
  conflictExitCode?: number;
  command?: string;
  ttl?: number;
  grace: number;
  verbose?: boolean;
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

function exitCode(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 255)
    throw new UsageError(`-E/--conflict-exit-code wants an exit code 0-255, got '${value}'`);
  return n;
}

/** `err`, ending the command with `-E`'s code when one was given. */
function conflict(err: CpgError, code: number | undefined): CpgError {
  return code === undefined ? err : new ExitCodeError(code, err);
}

/** Registers `cpgkit lock`. */
export const registerLock: RegisterCommand = (program, setExit) => {
  program
    .command('lock')
    .description(
      'hold the fenced lock NAME across the cluster while COMMAND runs (flock for the cluster)',
    )
    .usage('[options] --group G NAME COMMAND [ARGS...] | NAME -c "COMMAND"')
    .addOption(groupOption('the cpgkit group whose lock service holds NAME (G.locks)'))
    .option('--data <dir>', 'ignored (a client holds no state; `cpgkit serve --data` does)')
    .option('-n, --nonblock', 'fail at once (exit 1, or -E) if the lock is held or waited for')
    .option(
      '-s, --shared',
      'a read share: many -s holders at once, none while one holds it without -s',
    )
    .option('-x, --exclusive', 'the write side (the default)')
    .addOption(
      timeoutOption(
        'give up after this long (exit 6, or -E): the waits for a replica (exit 4) and for the lock included; e.g. 30s, 2m (bare: seconds)',
        's',
        undefined,
        '-w, --timeout <duration>',
      ),
    )
    .addOption(
      new Option(
        '-E, --conflict-exit-code <code>',
        'exit with this code when -n finds the lock busy or -w runs out',
      ).argParser(exitCode),
    )
    .option('-c, --command <command>', 'run COMMAND with /bin/sh -c')
    .option(
      '--ttl <duration>',
      'a lease: the cluster releases the lock after this long (bare: seconds)',
      duration('--ttl', 's'),
    )
    .addOption(graceOption())
    .option('--verbose', 'log sync decisions on stderr')
    .argument('<name>', 'the lock name')
    .argument('[command...]', 'the command to run and its arguments (no -- needed)')
    .passThroughOptions()
    .action(async (name: string, args: string[], opts: LockCliOptions) => {
      warnDataIgnored('lock', opts.group, opts.data);
      if (opts.shared && opts.exclusive) throw new UsageError('-s and -x exclude each other');
      if (opts.nonblock && opts.timeout !== undefined)
        throw new UsageError('-n and -w exclude each other');
      const command = commandOf(opts.command, args);
      const { ctl, off } = interruptSignal();
      // --timeout covers the whole wait: a replica, then the grant
      const deadline = opts.timeout === undefined ? undefined : performance.now() + opts.timeout;
      const left = (): number | undefined =>
        deadline === undefined ? undefined : Math.max(1, deadline - performance.now());
      const what = `${opts.shared ? 'read share of lock' : 'lock'} '${name}'`;
      let locks: Locks | undefined;
      try {
        locks = await openLocksClient({
          group: opts.group,
          replicaWaitMs: left() ?? DEFAULT_REPLICA_WAIT_S * 1000,
          signal: ctl.signal,
          ...(opts.verbose ? { log: verboseLog } : {}),
        });
        const rw = locks.rwlock(name);
        const ttl = opts.ttl === undefined ? {} : { ttl: Math.max(1, Math.round(opts.ttl)) };
        let lock: Lock | null;
        try {
          if (opts.nonblock) {
            lock = await (opts.shared ? rw.tryRead(ttl) : rw.tryWrite(ttl));
          } else {
            const timeout = left();
            const o = { signal: ctl.signal, ...ttl, ...(timeout === undefined ? {} : { timeout }) };
            lock = await (opts.shared ? rw.read(o) : rw.write(o));
          }
        } catch (err) {
          if (err instanceof TimeoutError)
            throw conflict(
              new TimeoutError(
                `${what}: timed out after ${formatDuration(opts.timeout ?? 0)} waiting for the lock`,
                { cause: err, outcome: 'not-applied' },
              ),
              opts.conflictExitCode,
            );
          if (err instanceof NoQuorumError)
            throw new NoQuorumError(
              `${what}: no quorum here: this node is in a minority partition of group ${opts.group} (or the cluster lost quorum); nothing was acquired`,
              { cause: err },
            );
          throw err;
        }
        if (lock === null)
          throw conflict(
            new LockBusyError(`${what} is busy (held or waited for elsewhere)`),
            opts.conflictExitCode,
          );
        setExit(await runHolding(lock, name, command, opts.grace));
      } finally {
        off();
        await locks?.close();
      }
    });
};

/**
 * Run COMMAND while holding `lock`; release when it exits and resolve with its code. If the lock
 * is lost first, stop COMMAND and throw the `LockLostError` (exit 3).
 */
async function runHolding(
  lock: Lock,
  name: string,
  command: readonly string[],
  graceMs: number,
): Promise<number> {
  const { child, exited } = runChild(command, {
    CPGKIT_FENCING_TOKEN: lock.token.toString(),
    CPGKIT_LOCK_NAME: name,
  });
  const forward = (sig: NodeJS.Signals): void => void child.kill(sig);
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  const lost = new Promise<LockLostError>((resolve) => {
    if (lock.signal.aborted) resolve(lock.signal.reason as LockLostError);
    lock.signal.addEventListener('abort', () => resolve(lock.signal.reason as LockLostError), {
      once: true,
    });
  });
  const first = await Promise.race([exited, lost]);
  process.off('SIGINT', forward);
  process.off('SIGTERM', forward);
  if (first instanceof LockLostError) {
    process.stderr.write(`cpgkit: ${first.message}; stopping the command\n`);
    await stopChild(child, exited, graceMs);
    throw new LockLostError(
      `lock '${name}' was lost while the command ran (${first.reason}); the command was stopped`,
      first.reason,
      { cause: first },
    );
  }
  await lock.release();
  return first;
}
