/**
 * The losses that durability 'memory' allows (src/sim/allowed-losses.ts), tied to that mode:
 * each listed seed of `pnpm jepsen --memory --lose-writes` still shows exactly the anomalies
 * its entry explains (so an entry that stops matching is noticed, and its seed analysed
 * again), and the same seed with `--durability fsync` shows none. The seed's schedule is not
 * the same in 'fsync' mode (the histories follow the product, and acks wait for disks);
 * packages/statemachine/test/durability.test.ts replays the shape itself in both modes (`Q`
 * shrunk to one replica, killed with its write in flight).
 */

// The time limits below bound a hang, not speed (see regressions.test.ts).
import { describe, it, expect } from 'vitest';
import { existsSync } from 'node:fs';
import { runSchedule, type ScheduleOptions } from '../src/sim/run.js';
import { describeFailure } from '../src/report.js';
import { MEMORY_MODE_LOSSES, allowedLoss, anomalyKinds } from '../src/sim/allowed-losses.js';

const dir = existsSync('/dev/shm') ? '/dev/shm' : undefined;

describe("losses that durability 'memory' allows", () => {
  for (const [seed, loss] of Object.entries(MEMORY_MODE_LOSSES)) {
    it(`seed ${seed}: ${loss.anomalies.join(', ')} in 'memory' mode (allowed), nothing in 'fsync' mode`, async () => {
      const memory: ScheduleOptions = { loseWrites: true, ...(dir ? { dir } : {}) };
      const m = await runSchedule(Number(seed), memory);
      expect(anomalyKinds(m)).toEqual([...loss.anomalies].sort());
      expect(m.faultCounts['lost-writes']).toBeGreaterThan(0);
      expect(allowedLoss(m, memory)).toBe(loss);
      // allowed in 'memory' mode only
      expect(allowedLoss(m, { ...memory, durability: 'fsync' })).toBeUndefined();
      expect(allowedLoss(m, { ...memory, steps: 6 })).toBeUndefined(); // another schedule
      const fsync = await runSchedule(Number(seed), { ...memory, durability: 'fsync' });
      expect(fsync.valid, fsync.valid ? '' : describeFailure(fsync)).toBe(true);
    }, 180_000);
  }
});
