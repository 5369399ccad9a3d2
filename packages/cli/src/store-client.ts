/**
 * A one-shot client of a group's store (`kv`, `snapshot`): open, wait for a replica, do one
 * thing, leave; and the retry of a call that certainly was not applied.
 * @module
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { InterruptedError, QueueFullError, TryAgainError } from '@cpgkit/core';
import { OutcomeUnknownError, type ReplicatedMap } from '@cpgkit/statemachine';
import { openStoreClient } from './clients.js';
import {
  NoAgentError,
  UsageError,
  WriteNotAppliedError,
  WriteOutcomeUnknownError,
} from './errors.js';
import { interruptSignal } from './interrupt.js';
import { CpgError } from '@cpgkit/core';

/** Options every store command has. */
export interface StoreOpts {
  group: string;
  /** ms */
  timeout: number;
  verbose?: boolean;
}

/**
 * Run `fn` on a one-shot member, then leave. With `write`, a failure before the write was
 * handed to the group (opening, waiting for a replica, corosync unreachable) is a
 * `WriteNotAppliedError` (when it is not one of cpgkit's errors that already say so).
 */
export async function oneShot<T>(
  opts: StoreOpts,
  fn: (kv: ReplicatedMap, signal: AbortSignal) => Promise<T>,
  o: { write?: boolean } = {},
): Promise<T> {
  const { ctl, off } = interruptSignal();
  const log = opts.verbose ? (l: string) => process.stderr.write(`cpgkit kv: ${l}\n`) : undefined;
  let kv: ReplicatedMap | undefined;
  let started = false;
  try {
    kv = await openStoreClient({
      group: opts.group,
      replicaWaitMs: opts.timeout,
      signal: ctl.signal,
      ...(log === undefined ? {} : { log }),
    });
    started = true;
    return await fn(kv, ctl.signal);
  } catch (err) {
    if (
      !o.write ||
      started ||
      err instanceof NoAgentError ||
      err instanceof WriteNotAppliedError ||
      err instanceof WriteOutcomeUnknownError ||
      err instanceof UsageError ||
      (err instanceof CpgError && err.outcome === 'not-applied')
    )
      throw err;
    const e = err instanceof Error ? err : new Error(String(err));
    throw new WriteNotAppliedError(`${e.name}: ${e.message} (not applied, safe to retry)`, {
      cause: err,
    });
  } finally {
    off();
    await kv?.close();
  }
}

/**
 * Whether `err` says the call was certainly not applied and may simply be sent again: dropped
 * by a sync round before anyone applied it (`InterruptedError`), or never sent
 * (`QueueFullError`, `TryAgainError`). Never a timeout or an `OutcomeUnknownError`.
 */
function sendAgain(err: unknown): boolean {
  return (
    err instanceof InterruptedError || err instanceof QueueFullError || err instanceof TryAgainError
  );
}

/**
 * Call `op` until it succeeds, fails in a way that is not `sendAgain`, or `timeoutMs` ran out.
 * With `reads`, an `OutcomeUnknownError` is sent again too (a read changes nothing).
 */
export async function retryNotApplied<T>(
  timeoutMs: number,
  signal: AbortSignal,
  op: (o: { signal: AbortSignal; timeout: number }) => Promise<T>,
  reads = false,
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  let delay = 20;
  for (;;) {
    try {
      return await op({ signal, timeout: Math.max(1, deadline - performance.now()) });
    } catch (err) {
      const again = sendAgain(err) || (reads && err instanceof OutcomeUnknownError);
      if (!again || deadline - performance.now() <= delay) throw err;
    }
    await sleep(delay, undefined, { signal }).catch(() => {
      throw signal.reason;
    });
    delay = Math.min(delay * 2, 500);
  }
}
