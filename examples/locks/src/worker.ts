/**
 * What each worker of the locks example does: increment a shared counter file under a
 * fenced lock (`withLock`), run a job only if nobody else is running it right now
 * (`tryAcquire`), and take one of a few permits for a limited resource (a semaphore).
 * @module
 */
import type { Locks } from '@cpgkit/locks';
import type { FencedFile } from './fenced-file.js';

/** The lock that guards the counter file. */
export const COUNTER_LOCK = 'counter-file';

/**
 * Increment the counter in `file` `times` times, each a read-modify-write under the lock
 * `COUNTER_LOCK`, writing with the lock's fencing token. `workMs` between the read and the
 * write stands for real work: without the lock, concurrent workers would lose updates.
 */
export async function incrementCounter(options: {
  readonly locks: Locks;
  readonly file: FencedFile;
  readonly worker: string;
  readonly times: number;
  readonly workMs: number;
  /** Sleep on the cluster's clock (virtual in tests). */
  readonly sleep: (ms: number) => Promise<void>;
  readonly log?: (line: string) => void;
}): Promise<void> {
  const { locks, file } = options;
  for (let i = 0; i < options.times; i++) {
    await locks.withLock(COUNTER_LOCK, async (signal, lock) => {
      const { counter } = await file.read();
      await options.sleep(options.workMs);
      // the lock may have been lost while we worked (quorum lost): stop, do not write
      signal.throwIfAborted();
      await file.write(lock.token, options.worker, counter + 1);
      options.log?.(
        `${options.worker}: counter ${counter} -> ${counter + 1} (token ${lock.token})`,
      );
    });
  }
}

/**
 * Run `job` only if the lock `name` is free right now (`tryAcquire`); otherwise skip it
 * (someone else is running it). Resolves with whether this worker ran it.
 */
export async function runIfFree(
  locks: Locks,
  name: string,
  job: () => Promise<void>,
): Promise<boolean> {
  const lock = await locks.tryAcquire(name);
  if (lock === null) return false;
  try {
    await job();
    return true;
  } finally {
    await lock.release();
  }
}

/**
 * Take one of `permits` permits of the semaphore `name`, run `job`, give the permit back.
 * At most `permits` workers run `job` at once, cluster-wide.
 */
export async function withPermit(
  locks: Locks,
  name: string,
  permits: number,
  job: (token: bigint) => Promise<void>,
): Promise<void> {
  const permit = await locks.semaphore(name, permits).acquire({ timeout: 30_000 });
  try {
    await job(permit.token);
  } finally {
    await permit.release();
  }
}
