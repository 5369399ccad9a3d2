/**
 * The losses that durability 'memory' allows (src/sim/allowed-losses.ts), tied to their
 * campaign and to that mode: each listed seed of `pnpm jepsen --memory --lose-writes` (and of
 * the same with `--forget-rounds`) still shows exactly the anomalies its entry explains, and the
 * one lost write the entry names explains them (so an entry that stops matching is noticed,
 * and its seed analysed again); the same seed with `--durability fsync` shows none. The seed's
 * schedule is not the same in 'fsync' mode (the histories follow the product, and acks wait
 * for disks); packages/statemachine/test/durability.test.ts replays the shape itself in both
 * modes (`Q` shrunk to one replica, killed with its write in flight).
 */

// The time limits below bound a hang, not speed (see regressions.test.ts).
import { describe, it, expect } from 'vitest';
import { existsSync } from 'node:fs';
import { runSchedule, type ScheduleOptions } from '../src/sim/run.js';
import { describeFailure } from '../src/report.js';
import {
  MEMORY_MODE_LOSSES,
  allowedLoss,
  anomalyKinds,
  explainedBy,
  lossCampaign,
  type LossCampaign,
} from '../src/sim/allowed-losses.js';

const dir = existsSync('/dev/shm') ? '/dev/shm' : undefined;

/** The options of each campaign whose losses are listed. */
const CAMPAIGNS: Readonly<Record<LossCampaign, ScheduleOptions>> = {
  '--lose-writes': { loseWrites: true, ...(dir ? { dir } : {}) },
  '--lose-writes --forget-rounds': {
    loseWrites: true,
    forgetRounds: true,
    ...(dir ? { dir } : {}),
  },
};

describe("losses that durability 'memory' allows", () => {
  it('an entry classifies only its own campaign as it is', () => {
    const plain = CAMPAIGNS['--lose-writes'];
    const forget = CAMPAIGNS['--lose-writes --forget-rounds'];
    expect(lossCampaign(plain)).toBe('--lose-writes');
    expect(lossCampaign(forget)).toBe('--lose-writes --forget-rounds');
    for (const o of [plain, forget]) {
      expect(lossCampaign({ ...o, durability: 'fsync' })).toBeUndefined();
      expect(lossCampaign({ ...o, steps: 6 })).toBeUndefined();
      expect(lossCampaign({ ...o, nodes: 3 })).toBeUndefined();
      expect(lossCampaign({ ...o, midStepFaults: true })).toBeUndefined();
      expect(lossCampaign({ ...o, upgrade: true })).toBeUndefined();
      expect(lossCampaign({ ...o, failoverDelay: 0 })).toBeUndefined();
      expect(lossCampaign({ ...o, readConsistency: 'stale' })).toBeUndefined();
    }
    expect(lossCampaign({ ...(dir ? { dir } : {}) })).toBeUndefined();
  });

  for (const [campaign, losses] of Object.entries(MEMORY_MODE_LOSSES) as [
    LossCampaign,
    (typeof MEMORY_MODE_LOSSES)[LossCampaign],
  ][]) {
    const other = (Object.keys(CAMPAIGNS) as LossCampaign[]).find((c) => c !== campaign)!;
    for (const [seed, loss] of Object.entries(losses)) {
      it(`${campaign} seed ${seed}: ${loss.anomalies.join(', ')} in 'memory' mode (allowed), nothing in 'fsync' mode`, async () => {
        const memory = CAMPAIGNS[campaign];
        const m = await runSchedule(Number(seed), memory);
        expect(anomalyKinds(m)).toEqual([...loss.anomalies].sort());
        expect(m.faultCounts['lost-writes']).toBeGreaterThan(0);
        expect(explainedBy(m, loss.lost)).toBe(true);
        expect(allowedLoss(m, memory)).toBe(loss);
        // the acknowledged write before it does not explain it
        const before = m.histories[loss.lost.history]!.flatMap((x) =>
          x.kind === 'complete' && x.outcome === 'ok' && x.op !== 'read' && x.id < loss.lost.op
            ? [x.id]
            : [],
        );
        expect(explainedBy(m, { ...loss.lost, op: before.at(-1)! })).toBe(false);
        // allowed in 'memory' mode only, in this campaign only (unless listed in both)
        expect(allowedLoss(m, { ...memory, durability: 'fsync' })).toBeUndefined();
        expect(allowedLoss(m, { ...memory, steps: 6 })).toBeUndefined(); // another schedule
        expect(allowedLoss(m, CAMPAIGNS[other])).toBe(MEMORY_MODE_LOSSES[other][Number(seed)]);
        const fsync = await runSchedule(Number(seed), { ...memory, durability: 'fsync' });
        expect(fsync.valid, fsync.valid ? '' : describeFailure(fsync)).toBe(true);
      }, 180_000);
    }
  }
});
