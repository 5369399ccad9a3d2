/**
 * `cpgkit lock --group G [--data DIR] [--timeout S] [--ttl S] NAME -- COMMAND...`: like
 * `flock`, across the cluster. Acquire the fenced lock NAME, run COMMAND with
 * `CPGKIT_FENCING_TOKEN` in its environment, release when it exits and exit with its code.
 * If the lock is lost while COMMAND runs, COMMAND gets SIGTERM (SIGKILL after `--grace`
 * seconds) and cpgkit exits with code 3, saying why. `--timeout` bounds the whole wait: for
 * the lock service to sync with a quorate majority (forever in a minority partition without
 * it), then for the grant; it exits 1 and says which of the two it was still waiting for.
 * @module
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { corosync, Group, TimeoutError, type GroupTransport } from '@cpgkit/core';
import { ReplicatedStateMachine } from '@cpgkit/statemachine';
import { LockLostError, Locks, locksMachine } from '@cpgkit/locks';
import { UsageError, type RegisterCommand } from '../util.js';

/** Exit code when the lock (or leadership) was lost while COMMAND ran. */
export const EXIT_LOST = 3;
/** Exit code when `--timeout` ran out before the lock was granted. */
export const EXIT_TIMEOUT = 1;

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

/**
 * How `lock` and `leader` reach the cluster: a new corosync CPG member. Tests point `open` at
 * an in-memory cluster (`MemoryCluster.transport(n)`) to run the commands without corosync.
 */
export const cliTransport: { open: () => GroupTransport } = {
  open: () => new Group(corosync()),
};

/** `--timeout` ran out before the lock service was synced in a quorate component. */
export class SyncTimeoutError extends TimeoutError {
  override name = 'SyncTimeoutError';
  /** What the wait was for, and where the member stood when it gave up. */
  readonly waitingFor: string;
  constructor(group: string, status: string, cause: Error) {
    const why =
      status === 'minority'
        ? 'this member is in a minority partition, or the cluster has no quorum'
        : 'no state received from a quorate majority yet';
    const waitingFor = `quorum/sync of group ${group} (status ${status}: ${why})`;
    super(`timed out waiting for ${waitingFor}`, { cause });
    this.waitingFor = waitingFor;
  }
}

/**
 * Open the lock machine for a CLI command: join `group` over corosync, with snapshots in
 * `dataDir` if given, and wait until synced with the existing members in a quorate component.
 * Rejects with `SyncTimeoutError` when that takes longer than `timeoutMs` (a member cut off
 * in a minority partition waits until the partition heals).
 */
export async function openCliLocks(
  group: string,
  dataDir: string | undefined,
  signal: AbortSignal,
  verbose = false,
  timeoutMs?: number,
): Promise<Locks> {
  const machine = await ReplicatedStateMachine.open(cliTransport.open(), locksMachine(), {
    groupName: group,
    ...(dataDir === undefined ? {} : { dataDir }),
    ...(verbose ? { log: (l: string) => void process.stderr.write(`cpgkit: ${l}\n`) } : {}),
  });
  const locks = new Locks(machine, { closeMachine: true });
  try {
    await machine.ready({ signal, ...(timeoutMs === undefined ? {} : { timeout: timeoutMs }) });
  } catch (err) {
    const status = machine.status;
    await locks.close();
    if (err instanceof TimeoutError) throw new SyncTimeoutError(group, status, err);
    throw err;
  }
  return locks;
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

/** Registers `cpgkit lock`. */
export const registerLock: RegisterCommand = (program, setExit) => {
  program
    .command('lock')
    .description('hold the fenced lock NAME across the cluster while COMMAND runs (like flock)')
    .requiredOption('--group <group>', 'the CPG group of the lock service')
    .option('--data <dir>', 'persist the lock state here (tokens survive a full restart)')
    .option(
      '--timeout <s>',
      'give up after this many seconds, the wait for quorum/sync included (exit 1)',
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
      const { ctl, off } = interruptSignal();
      // --timeout covers the whole wait: joining and syncing in a quorate component, then the grant
      const deadline =
        opts.timeout === undefined ? undefined : performance.now() + opts.timeout * 1000;
      const left = (): number | undefined =>
        deadline === undefined ? undefined : Math.max(0, deadline - performance.now());
      let locks: Locks | undefined;
      try {
        try {
          locks = await openCliLocks(opts.group, opts.data, ctl.signal, opts.verbose, left());
        } catch (err) {
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
