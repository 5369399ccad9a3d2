/**
 * Losses the product allows, found by `--lose-writes` campaigns in the default durability mode
 * (`'memory'`), each analysed from its replay and explained: a write is acknowledged once a
 * majority of `Q` applied it in memory, so when a majority of `Q` dies with that write not yet
 * on its disks, the write is lost (statemachine README, "Durability modes": in `'memory'` mode,
 * "a crash of a majority of `Q` at once loses the commands acknowledged in the last
 * `persistDelay` ms + write time before it"). `Q` may be one replica: the others died one after
 * the other, each proving it held `Q` (the `gone` rule), and the last goes on alone.
 *
 * An entry is tied to its campaign and to that mode: it classifies a schedule only when it ran
 * with that campaign's options exactly (`--lose-writes`, or `--lose-writes --forget-rounds`),
 * in `'memory'` mode, with the campaign's defaults (24 steps), and showed exactly the anomalies
 * listed. The campaign still prints it, with the reason; in `'fsync'` mode nothing is allowed
 * (test/allowed-losses.test.ts runs each seed in both modes). A product change that moves the
 * schedules makes an entry stop matching: it is then an anomaly again until someone analyses
 * it. Each was read from the replay's trace (`CPGKIT_SEED=N pnpm jepsen --memory ... --trace
 * FILE`), and for each the history with that one acknowledgement made `unknown` passes its
 * checker: the lost write explains the anomaly, and nothing else is needed to.
 * @module
 */
import type { HistoryRecord } from '../history.js';
import { checkRegister } from '../checkers/register.js';
import { checkSet } from '../checkers/set.js';
import type { ScheduleOptions, ScheduleResult } from './run.js';

/** The acknowledged write a loss took: its history and its operation's id there. */
export interface LostWrite {
  readonly history: 'set' | 'register';
  readonly op: number;
}

/**
 * One analysed loss: what the checkers report (`<checker>: <kind>`), the acknowledged write
 * that was lost, and why it is allowed.
 */
export interface AllowedLoss {
  readonly anomalies: readonly string[];
  readonly lost: LostWrite;
  readonly why: string;
}

/** The campaigns whose losses are listed: `pnpm jepsen --memory` with these options. */
export type LossCampaign = '--lose-writes' | '--lose-writes --forget-rounds';

/**
 * Seed 9095 runs the same schedule in both campaigns up to its loss (the trace is the same to
 * 2317 ms: no `kill-at-vote` was drawn before it).
 */
const SEED_9095: AllowedLoss = {
  anomalies: ['set: lost-add'],
  lost: { history: 'set', op: 49 },
  why:
    "kv Q = {n1, n2} (n3's node killed at 904 ms: epoch 3), then {n1} (n2's process killed at " +
    "2004 ms after proving Q: gone; epoch 6, Q = {n1} on n1's disk before its ack): n1 " +
    'acknowledged set/49 (index 92, epoch 6) from memory at 2317 ms and its process was killed ' +
    'with its ack in flight and that write not landed; n1 restarted from index 91',
};

/** By campaign (durability 'memory', 24 steps), by seed. */
export const MEMORY_MODE_LOSSES: Readonly<
  Record<LossCampaign, Readonly<Record<number, AllowedLoss>>>
> = {
  '--lose-writes': {
    9026: {
      anomalies: ['set: lost-add'],
      lost: { history: 'set', op: 82 },
      why:
        'kv Q = {n2, n3} (n1 killed at 3883 ms: gone), then {n2} (n3 killed at 3941 ms: gone; ' +
        "epoch 8, Q = {n2} on n2's disk before its ack); n2 restarted alone from its disk at 10104 ms " +
        'and acknowledged set/82 (index 70, epoch 9) from memory at 11643 ms; its process was killed ' +
        'with its ack in flight and that write not landed; n2 restarted from index 69',
    },
    9095: SEED_9095,
    9102: {
      anomalies: ['set: lost-add'],
      lost: { history: 'set', op: 309 },
      why:
        'kv Q = {n1} (n2 cut off, n3 killed at 15581 ms after acking epoch 6 at Q = {n1, n3}: gone; ' +
        "epoch 8, Q = {n1} on n1's disk before its ack): n1 acknowledged set/309 (index 54) from " +
        'memory at 15937 ms and its node was killed with its ack in flight and that write not ' +
        'landed; n1 restarted from index 53',
    },
  },
  // None of these involves the campaign's own fault (`kill-at-vote`, drawn in 9056 at 166 ms
  // and 9178 at 2081 ms, long before): each is the lone-replica loss of the other campaign.
  '--lose-writes --forget-rounds': {
    9027: {
      anomalies: ['set: lost-add'],
      lost: { history: 'set', op: 25 },
      why:
        "kv Q = {n2, n3} (n1 cut off at 252 ms: epoch 3), then {n3} (n2's process killed at " +
        "742 ms with its ack in flight, after proving Q: gone; epoch 5, Q = {n3} on n3's disk " +
        'before its ack): n3 acknowledged set/25 (index 37, epoch 5) from memory at 1255 ms and its ' +
        'process was killed with its ack in flight and that write not landed; n3 restarted from ' +
        'index 36 (at 9887 ms)',
    },
    9033: {
      anomalies: ['register (linearizability): linearizable'],
      lost: { history: 'register', op: 109 },
      why:
        "kv Q = {n1, n2} (n3 cut off at 4542 ms: epoch 8), then {n1} (n2's process killed at " +
        "4664 ms after proving Q: gone; epoch 10, Q = {n1} on n1's disk before its ack): n1 " +
        'acknowledged cas r2 1 -> 49 (register.kick8, index 34, epoch 10) from memory at 4954 ms ' +
        'and its node was killed with its ack in flight and that write not landed; n1 restarted ' +
        'from index 33 (at 18113 ms), so the final reads see r2 = 1, the value before the cas; ' +
        'no other write of r2 was acknowledged or left unknown after it',
    },
    9056: {
      anomalies: ['set: lost-add'],
      lost: { history: 'set', op: 126 },
      why:
        "kv Q = {n1, n3} (n2 cut off at 6525 ms: epoch 10), then {n1} (n3's process killed at " +
        "6891 ms after proving Q: gone; epoch 12, Q = {n1} on n1's disk before its ack): n1 " +
        'acknowledged set/126 (index 85, epoch 12) from memory at 7111 ms and its node was killed ' +
        'with its ack in flight and that write not landed; n1 restarted from index 84 (at 8586 ms)',
    },
    9095: SEED_9095,
    9121: {
      anomalies: ['set: lost-add'],
      lost: { history: 'set', op: 99 },
      why:
        "kv Q = {n2} (n3's process killed at 2005 ms with its ack in flight while n2 was paused " +
        'and n1 cut off; n2 resumed at 9585 ms and recorded n3 gone: epoch 5), then {n1, n2} (n1 ' +
        "and n2 met at 10830 ms: epoch 7, n2's state), then {n1} (n2's process killed at 11025 ms " +
        "after proving Q: gone; epoch 9, Q = {n1} on n1's disk before its ack; epoch 10 at the " +
        'heal at 11082 ms, still Q = {n1}, the others dead): n1 acknowledged set/99 (index 50, ' +
        'epoch 10) from memory at 11093 ms and its node was killed with its ack in flight and ' +
        'that write not landed; n1 restarted from index 49 (at 11616 ms)',
    },
    9178: {
      anomalies: ['register (linearizability): linearizable'],
      lost: { history: 'register', op: 152 },
      why:
        "kv Q = {n2, n3} (n1's process killed at 7681 ms after proving Q = {n1, n2, n3} at epoch " +
        "10: gone; epoch 12), then {n3} (n2's process killed at 7799 ms after proving Q: gone; " +
        "epoch 14, Q = {n3} on n3's disk before its ack): n3 acknowledged cas r1 75 -> 77 " +
        '(register.kick20, index 69, epoch 14) from memory at 7879 ms and its node was killed ' +
        'with its ack in flight and that write not landed; n3 restarted from index 68 (at ' +
        '8201 ms), so the final reads see r1 = 75 (index 64, epoch 12, on the disks of n2 and ' +
        'n3), the value before the cas; no other write of r1 was acknowledged or left unknown after it',
    },
  },
};

/**
 * The campaign `options` run, if it is one whose losses are listed: `pnpm jepsen --memory
 * --lose-writes [--forget-rounds]` as it is (durability `'memory'`, 24 steps, the seed's cluster
 * size, no other option that changes the schedule).
 */
export function lossCampaign(options: ScheduleOptions): LossCampaign | undefined {
  const o = options;
  const memoryDefaults =
    o.loseWrites === true &&
    (o.durability ?? 'memory') === 'memory' &&
    (o.steps ?? 24) === 24 &&
    o.nodes === undefined &&
    o.upgrade !== true &&
    o.forkNewFormat !== true &&
    o.midStepFaults !== true &&
    (o.failoverDelay ?? 200) === 200 &&
    (o.readConsistency ?? 'linearizable') === 'linearizable';
  if (!memoryDefaults) return undefined;
  return o.forgetRounds === true ? '--lose-writes --forget-rounds' : '--lose-writes';
}

/**
 * The analysed loss that explains `r`'s anomalies, or `undefined`: only for a schedule run
 * with the options of a listed campaign (`lossCampaign`), listed for that campaign, only when
 * the anomalies are exactly the listed ones, and only when that one lost write explains them
 * (`explainedBy`).
 */
export function allowedLoss(r: ScheduleResult, options: ScheduleOptions): AllowedLoss | undefined {
  const campaign = lossCampaign(options);
  const entry = campaign === undefined ? undefined : MEMORY_MODE_LOSSES[campaign][r.seed];
  if (r.valid || entry === undefined) return undefined;
  const same = JSON.stringify(anomalyKinds(r)) === JSON.stringify([...entry.anomalies].sort());
  return same && explainedBy(r, entry.lost) ? entry : undefined;
}

/**
 * Whether the loss of `lost` alone explains what its history's checker objects to: `lost` was
 * acknowledged (`ok`), and with that outcome made `unknown` (it may have taken effect, or
 * never) the history passes. A lost add then is that add; a stale read, one that reads the
 * value before that write, with no other write to explain it.
 */
export function explainedBy(r: ScheduleResult, lost: LostWrite): boolean {
  const records = r.histories[lost.history] ?? [];
  let acknowledged = false;
  const edited = records.map((x): HistoryRecord => {
    if (x.kind !== 'complete' || x.id !== lost.op || x.outcome !== 'ok') return x;
    acknowledged = true;
    return { ...x, outcome: 'unknown', value: null };
  });
  const check = lost.history === 'set' ? checkSet : checkRegister;
  return acknowledged && check(edited).valid;
}

/** The anomalies of a schedule as `<checker>: <kind>`, sorted, each once. */
export function anomalyKinds(r: ScheduleResult): string[] {
  return [
    ...new Set(r.verdicts.flatMap((v) => v.anomalies.map((a) => `${v.checker}: ${a.kind}`))),
  ].sort();
}
