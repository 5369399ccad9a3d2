/**
 * Losses the product allows, found by `--lose-writes` campaigns in the default durability mode
 * (`'memory'`), each analysed from its replay and explained: a write is acknowledged once a
 * majority of `Q` applied it in memory, so when a majority of `Q` dies with that write not yet
 * on its disks, the write is lost (statemachine README, "Durability modes": in `'memory'` mode,
 * "a crash of a majority of `Q` at once loses the commands acknowledged in the last
 * `persistDelay` ms + write time before it"). `Q` may be one replica: the others died one after
 * the other, each proving it held `Q` (the `gone` rule), and the last goes on alone.
 *
 * An entry is tied to that mode: it classifies a schedule only when it ran with
 * `--lose-writes`, in `'memory'` mode, with the campaign's defaults (24 steps), and showed
 * exactly the anomalies listed. The campaign still prints it, with the reason; in `'fsync'`
 * mode nothing is allowed (test/allowed-losses.test.ts runs each seed in both modes). A
 * product change that moves the schedules makes an entry stop matching: it is then an anomaly
 * again until someone analyses it.
 * @module
 */
import type { ScheduleOptions, ScheduleResult } from './run.js';

/** One analysed loss: what the checkers report (`<checker>: <kind>`), and why it is allowed. */
export interface AllowedLoss {
  readonly anomalies: readonly string[];
  readonly why: string;
}

/** `pnpm jepsen --memory --lose-writes` (durability 'memory', 24 steps), by seed. */
export const MEMORY_MODE_LOSSES: Readonly<Record<number, AllowedLoss>> = {
  9026: {
    anomalies: ['set: lost-add'],
    why:
      'kv Q = {n2, n3} (n1 killed at 3883 ms: gone), then {n2} (n3 killed at 3941 ms: gone; ' +
      "epoch 8, Q = {n2} on n2's disk before its ack); n2 restarted alone from its disk at 10104 ms " +
      'and acknowledged set/82 (index 70, epoch 9) from memory; its process was killed with its ack ' +
      'in flight and that write not landed; n2 restarted from index 69',
  },
  9095: {
    anomalies: ['set: lost-add'],
    why:
      'kv Q = {n1, n2} (n3 cut off at 1848 ms), then {n1} (n2 killed at 2004 ms after proving Q: gone; ' +
      "epoch 6, Q = {n1} on n1's disk before its ack): n1 acknowledged set/49 (index 92) from memory " +
      'and its process was killed with its ack in flight and that write not landed; n1 restarted from index 91',
  },
  9102: {
    anomalies: ['set: lost-add'],
    why:
      'kv Q = {n1} (n2 cut off, n3 killed at 15581 ms after acking epoch 6 at Q = {n1, n3}: gone; ' +
      "epoch 8, Q = {n1} on n1's disk before its ack): n1 acknowledged set/309 (index 54) from " +
      'memory and its node was killed with its ack in flight and that write not landed; n1 restarted from index 53',
  },
};

/**
 * The analysed loss that explains `r`'s anomalies, or `undefined`: only for a schedule run with
 * `options` of `pnpm jepsen --memory --lose-writes` as it is (durability `'memory'`, 24 steps,
 * the seed's cluster size, no other option that changes the schedule), and only when the
 * anomalies are exactly the listed ones.
 */
export function allowedLoss(r: ScheduleResult, options: ScheduleOptions): AllowedLoss | undefined {
  const o = options;
  const campaign =
    o.loseWrites === true &&
    (o.durability ?? 'memory') === 'memory' &&
    (o.steps ?? 24) === 24 &&
    o.nodes === undefined &&
    o.upgrade !== true &&
    o.forgetRounds !== true &&
    o.midStepFaults !== true &&
    (o.failoverDelay ?? 200) === 200 &&
    (o.readConsistency ?? 'linearizable') === 'linearizable';
  const entry = MEMORY_MODE_LOSSES[r.seed];
  if (r.valid || !campaign || entry === undefined) return undefined;
  return JSON.stringify(anomalyKinds(r)) === JSON.stringify([...entry.anomalies].sort())
    ? entry
    : undefined;
}

/** The anomalies of a schedule as `<checker>: <kind>`, sorted, each once. */
export function anomalyKinds(r: ScheduleResult): string[] {
  return [
    ...new Set(r.verdicts.flatMap((v) => v.anomalies.map((a) => `${v.checker}: ${a.kind}`))),
  ].sort();
}
