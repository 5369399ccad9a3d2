/**
 * Wait for what takes both clocks of a `MemoryCluster`: a machine's close may wait on the
 * replicated clock (its retire, a round in progress, the proof its ack may be needed for: each
 * up to `syncTimeout`) and on its disk (real time), in any order. A test that only awaits its
 * closes moves neither clock: with slow disks (a busy machine) it hung until the runner's
 * timeout.
 * @module
 */
import type { MemoryCluster } from '@cpgkit/core/testing';

/**
 * Move the replicated clock 100 virtual ms at a time, with a few real ms between, until `p`
 * settles or `realLimitMs` of real time pass: whether it settled.
 */
export async function runUntilSettled(
  cluster: MemoryCluster,
  p: Promise<unknown>,
  realLimitMs: number,
): Promise<boolean> {
  let settled = false;
  p.then(
    () => (settled = true),
    () => (settled = true),
  );
  for (const end = Date.now() + realLimitMs; !settled && Date.now() < end;) {
    await cluster.advance(100);
    if (!settled) await new Promise((r) => setTimeout(r, 2));
  }
  return settled;
}

/** Close `machines` at once while both clocks move (`runUntilSettled`); throws if they hang. */
export async function closeRunning(
  cluster: MemoryCluster,
  machines: readonly { close(): Promise<void> }[],
  realLimitMs = 30_000,
): Promise<void> {
  const closing = Promise.all(machines.map((m) => m.close()));
  if (!(await runUntilSettled(cluster, closing, realLimitMs)))
    throw new Error(`closeRunning: ${machines.length} closes did not end in ${realLimitMs} ms`);
  await closing;
}
