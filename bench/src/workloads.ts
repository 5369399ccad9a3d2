/**
 * The workloads, written once against {@link CoordinationAdapter} and run by a worker process
 * for either system. Times are monotonic milliseconds (`nowMs`), comparable across the
 * processes of this machine, so the orchestrator can line up events from several workers.
 * @module
 */
import type { CoordinationAdapter, HeldLeadership } from './adapter.js';
import { nowMs, sleep } from './procs.js';
import { taggedValue } from './trace.js';

/** A value of about `bytes` bytes carrying the send time, so a watcher can time delivery. */
export function stampedValue(bytes: number, sentAt = nowMs()): string {
  const head = `{"t":${sentAt},"p":"`;
  return head + 'x'.repeat(Math.max(0, bytes - head.length - 2)) + '"}';
}

/** The send time carried by {@link stampedValue}. */
export function stampOf(value: string): number | undefined {
  const m = /^\{"t":([0-9.e+]+),/.exec(value);
  return m ? Number(m[1]) : undefined;
}

async function waitUntil(at: number | undefined): Promise<void> {
  if (at === undefined) return;
  const d = at - nowMs();
  if (d > 0) await sleep(d);
}

/** Arguments of {@link throughput}. */
export interface ThroughputArgs {
  readonly durationMs: number;
  /** Writes in flight at once from this worker. */
  readonly concurrency: number;
  readonly keyPrefix: string;
  /** Writes cycle over this many keys. */
  readonly keys: number;
  readonly valueBytes: number;
  /** Monotonic time to start at (so several workers start together). */
  readonly startAt?: number;
}

/** Closed-loop writes for a fixed time: `concurrency` loops, each awaiting its write. */
export async function throughput(
  a: CoordinationAdapter,
  args: ThroughputArgs,
): Promise<{ ops: number; errors: number; elapsedMs: number; firstError?: string }> {
  await waitUntil(args.startAt);
  const start = nowMs();
  const end = start + args.durationMs;
  let ops = 0;
  let errors = 0;
  let firstError: string | undefined;
  let next = 0;
  const value = 'v'.repeat(args.valueBytes);
  await Promise.all(
    Array.from({ length: args.concurrency }, async () => {
      while (nowMs() < end) {
        const key = `${args.keyPrefix}${next++ % args.keys}`;
        try {
          await a.put(key, value);
          ops++;
        } catch (error) {
          errors++;
          firstError ??= String(error);
          if (errors > 100) return;
        }
      }
    }),
  );
  return { ops, errors, elapsedMs: nowMs() - start, ...(firstError ? { firstError } : {}) };
}

/** Arguments of {@link writeLatency}. */
export interface LatencyArgs {
  /** Writes per second (open loop: each write is due at a fixed time). */
  readonly rate: number;
  readonly count: number;
  readonly keyPrefix: string;
  readonly keys: number;
  readonly valueBytes: number;
  /** At most this many writes in flight; beyond it the schedule waits (and the wait counts). */
  readonly maxInFlight?: number;
  /**
   * Tag each value with its write number (trace.ts) and return every write's times: the
   * latency probe's tracing. @defaultValue false
   */
  readonly traced?: boolean;
}

/**
 * Open-loop writes at a fixed rate. Latency is measured from when each write was DUE, not
 * when it was sent, so a stall shows up in the tail (no coordinated omission).
 */
export async function writeLatency(
  a: CoordinationAdapter,
  args: LatencyArgs,
): Promise<{
  samples: number[];
  errors: number;
  elapsedMs: number;
  /** With `traced`: `[due, sent, resolved]` of write number i at i. */
  writes?: [number, number, number][];
}> {
  const samples: number[] = [];
  const writes: [number, number, number][] = [];
  let errors = 0;
  const plain = 'v'.repeat(args.valueBytes);
  const value = (i: number) => (args.traced ? taggedValue(i, args.valueBytes) : plain);
  const interval = 1000 / args.rate;
  const start = nowMs() + 5;
  const inFlight = new Set<Promise<void>>();
  const max = args.maxInFlight ?? 1000;
  for (let i = 0; i < args.count; i++) {
    const due = start + i * interval;
    await waitUntil(due);
    while (inFlight.size >= max) await Promise.race(inFlight);
    // A timer may fire a little before `due` (ms granularity): then time from the real start.
    const sent = nowMs();
    const from = Math.min(sent, due);
    const p: Promise<void> = a
      .put(`${args.keyPrefix}${i % args.keys}`, value(i))
      .then(
        () => {
          const done = nowMs();
          samples.push(done - from);
          if (args.traced) writes[i] = [due, sent, done];
        },
        () => void errors++,
      )
      .finally(() => inFlight.delete(p));
    inFlight.add(p);
  }
  await Promise.all(inFlight);
  return { samples, errors, elapsedMs: nowMs() - start, ...(args.traced ? { writes } : {}) };
}

/** Sequential reads of one key: the latency of each `get`. */
export async function readLatency(
  a: CoordinationAdapter,
  args: { key: string; count: number },
): Promise<{ samples: number[]; misses: number }> {
  const samples: number[] = [];
  let misses = 0;
  for (let i = 0; i < args.count; i++) {
    const t = nowMs();
    const v = await a.get(args.key);
    samples.push(nowMs() - t);
    if (v === undefined) misses++;
  }
  return { samples, misses };
}

/** Paced writes of stamped values (for a watcher elsewhere to time). */
export async function stampedWrites(
  a: CoordinationAdapter,
  args: { rate: number; count: number; keyPrefix: string; valueBytes: number },
): Promise<{ written: number }> {
  const interval = 1000 / args.rate;
  const start = nowMs();
  let written = 0;
  for (let i = 0; i < args.count; i++) {
    await waitUntil(start + i * interval);
    await a.put(`${args.keyPrefix}${i}`, stampedValue(args.valueBytes));
    written++;
  }
  return { written };
}

/** Arguments of {@link load}. */
export interface LoadArgs {
  readonly prefix: string;
  readonly count: number;
  /** Requests in flight at once. */
  readonly concurrency: number;
  readonly valueBytes: number;
  /** The first key's number (keys are `prefix` + 7-digit numbers from here). */
  readonly offset?: number;
  /**
   * Keys per request: 1 (a `put` each), or more (`putMany`, at most the adapter's
   * `putManyMax`). @defaultValue 1
   */
  readonly batch?: number;
  /** Tries of a write that fails (a timeout of a busy system: loading is not what is timed). */
  readonly tries?: number;
}

/**
 * Bulk load `count` keys with `concurrency` requests in flight, `batch` keys per request (each
 * retried up to `tries` times).
 */
export async function load(
  a: CoordinationAdapter,
  args: LoadArgs,
): Promise<{ loaded: number; elapsedMs: number }> {
  const start = nowMs();
  let next = args.offset ?? 0;
  const end = next + args.count;
  const batch = Math.min(Math.max(1, args.batch ?? 1), a.putManyMax);
  const tries = Math.max(1, args.tries ?? 1);
  const retried = async (write: () => Promise<void>): Promise<void> => {
    for (let t = 1; ; t++) {
      try {
        return await write();
      } catch (error) {
        if (t >= tries) throw error;
        await sleep(200 * t);
      }
    }
  };
  const value = 'v'.repeat(args.valueBytes);
  const keyOf = (i: number): string => `${args.prefix}${String(i).padStart(7, '0')}`;
  let loaded = 0;
  await Promise.all(
    Array.from({ length: args.concurrency }, async () => {
      while (next < end) {
        const from = next;
        const to = Math.min(end, from + batch);
        next = to;
        const keys = Array.from({ length: to - from }, (_, j) => keyOf(from + j));
        await retried(() => (batch === 1 ? a.put(keys[0]!, value) : a.putMany(keys, value)));
        loaded += to - from;
      }
    }),
  );
  return { loaded, elapsedMs: nowMs() - start };
}

/** One grant of a lock, as a worker saw it. */
export interface LockEvent {
  readonly requestedAt: number;
  readonly grantedAt: number;
  readonly releasedAt: number;
}

/**
 * Acquire, hold `holdMs`, release, again, until `durationMs` passed or `count` grants.
 * With one worker: the uncontended rate. With one worker per node on the same name: the
 * hand-offs between them (the orchestrator lines up the events of every worker).
 */
export async function lockLoop(
  a: CoordinationAdapter,
  args: { name: string; durationMs: number; count: number; holdMs: number; startAt?: number },
): Promise<{ events: LockEvent[]; elapsedMs: number }> {
  await waitUntil(args.startAt);
  const start = nowMs();
  const events: LockEvent[] = [];
  while (nowMs() - start < args.durationMs && events.length < args.count) {
    const requestedAt = nowMs();
    const held = await a.lock(args.name);
    const grantedAt = nowMs();
    if (args.holdMs > 0) await sleep(args.holdMs);
    const releasedAt = nowMs();
    await held.unlock();
    events.push({ requestedAt, grantedAt, releasedAt });
  }
  return { events, elapsedMs: nowMs() - start };
}

/**
 * A worker's running campaign: resolves when elected, with when. A campaign that fails (etcd:
 * the lease was lost while the cluster re-elected its raft leader; cpgkit: the request was
 * interrupted by the membership change) campaigns again, as an application would, until
 * `deadlineMs` passed; the retries are counted.
 */
export function startCampaign(
  a: CoordinationAdapter,
  name: string,
  value: string,
  deadlineMs = 60_000,
): { elected: Promise<{ electedAt: number; leadership: HeldLeadership; retries: number }> } {
  const until = nowMs() + deadlineMs;
  const attempt = async (
    retries: number,
  ): Promise<{ electedAt: number; leadership: HeldLeadership; retries: number }> => {
    try {
      const leadership = await a.campaign(name, value);
      return { electedAt: nowMs(), leadership, retries };
    } catch (error) {
      if (nowMs() > until) throw error;
      await sleep(20);
      return attempt(retries + 1);
    }
  };
  return { elected: attempt(0) };
}
