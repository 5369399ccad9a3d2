/**
 * A worker of which only the leader runs a periodic job; the others stand by and take over
 * when the leader dies, is cut off, or resigns.
 * @module
 */
import type { Leadership, LeaderInfo, Locks } from '@cpgkit/locks';

/** One run of the job: who ran it, under which term. */
export interface JobRun {
  readonly node: number;
  readonly term: bigint;
  /** The run number within the term (1, 2, ...). */
  readonly n: number;
}

/** Options for `runWorker`. */
export interface WorkerOptions {
  /** The lock-machine client of this worker (one per process). */
  readonly locks: Locks;
  /** The election's name. */
  readonly election: string;
  /** This worker's node (announced as the leader's value). */
  readonly node: number;
  /** How often the leader runs the job (ms, on the locks' clock). */
  readonly intervalMs: number;
  /**
   * The job. It gets the leadership's signal: when it aborts, the job must stop at once
   * (another worker may already be leading).
   */
  readonly job: (run: JobRun, signal: AbortSignal) => Promise<void> | void;
  /** Stop the worker (it resigns if it leads). */
  readonly signal: AbortSignal;
  /** Called when this worker becomes leader, and when it stops leading. */
  readonly onLeadership?: (event: {
    readonly leading: boolean;
    readonly term: bigint;
    readonly reason?: string;
  }) => void;
}

/**
 * Campaign; while leader, run the job every `intervalMs`; when leadership is lost, campaign
 * again. Resolves when `signal` aborts.
 */
export async function runWorker(options: WorkerOptions): Promise<void> {
  const { locks, signal } = options;
  while (!signal.aborted) {
    let leadership: Leadership;
    try {
      leadership = await locks.campaign(options.election, { value: options.node, signal });
    } catch {
      if (signal.aborted) return;
      // no quorum, or the group is re-forming: campaign again a little later
      await sleep(locks, 200, signal);
      continue;
    }
    options.onLeadership?.({ leading: true, term: leadership.term });
    const both = AbortSignal.any([leadership.signal, signal]);
    for (let n = 1; !both.aborted; n++) {
      try {
        await options.job({ node: options.node, term: leadership.term, n }, both);
      } catch {
        // a failed run is the job's business; the worker keeps leading
      }
      await sleep(locks, options.intervalMs, both);
    }
    if (signal.aborted) {
      await leadership.resign().catch(() => {});
      return;
    }
    const reason =
      leadership.signal.reason instanceof Error ? leadership.signal.reason.message : 'lost';
    options.onLeadership?.({ leading: false, term: leadership.term, reason });
  }
}

/**
 * Print (or otherwise report) who leads, as every worker can observe it: an async iterable
 * of `{ leader, term, value }` from `Locks.observe`.
 */
export async function watchLeader(
  locks: Locks,
  election: string,
  signal: AbortSignal,
  onChange: (info: LeaderInfo) => void,
): Promise<void> {
  for await (const info of locks.observe(election, { signal })) onChange(info);
}

/** Sleep on the locks' clock (virtual on the in-memory cluster); wakes early on abort. */
function sleep(locks: Locks, ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = locks.clock.setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      timer.cancel();
      resolve();
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
