/**
 * The in-memory campaign as a test: a few hundred seeded fault schedules (3 and 5 nodes), every
 * history checked; any anomaly fails with its seed and smallest window. `CPGKIT_SEED=N` runs
 * that one schedule; `CPGKIT_RUNS=N` (or the older `CPGKIT_JEPSEN_SCHEDULES=N`) runs more (or
 * `pnpm jepsen --memory`). See test/seeded.ts.
 */

// The time limits below bound a hang, not speed: the schedules run on virtual time and are
// CPU-bound, and a machine busy with other work (2 cores, shared) can take several times as
// long as a quiet one (60 seeds: 47 s quiet, over 300 s at a load of 16-18 under nice 19).
import { describe, it, expect, vi } from 'vitest';
import { existsSync } from 'node:fs';
import { runSchedule } from '../src/sim/run.js';
import { describeFailure } from '../src/report.js';
import { KNOWN_ANOMALIES } from './known-anomalies.js';
import { runsFromEnv } from '../../seeded.js';
import { replayLines as lines } from './replay-lines.js';

const FIRST = 20261204;
const replay = process.env.CPGKIT_SEED;
const COUNT = replay !== undefined ? 1 : runsFromEnv(200, 'CPGKIT_JEPSEN_SCHEDULES');
const START = replay !== undefined ? Number(replay) : FIRST;
/** Faults per schedule: short schedules, many seeds. */
const STEPS = 6;
/** Data directories in memory when the machine has a tmpfs (an fsync costs nothing there). */
const dir = existsSync('/dev/shm') ? '/dev/shm' : undefined;

describe('in-memory Jepsen campaign', () => {
  it(`${COUNT} seeded schedules (seeds ${START}..${START + COUNT - 1}) show no anomaly beyond the known ones`, async () => {
    const failures: string[] = [];
    let ops = 0;
    const nodes = new Set<number>();
    for (let seed = START; seed < START + COUNT; seed++) {
      const r = await runSchedule(seed, { steps: STEPS, ...(dir ? { dir } : {}) });
      nodes.add(r.nodes);
      for (const h of Object.values(r.histories))
        ops += h.filter((x) => x.kind === 'complete').length;
      const found = [
        ...new Set(r.verdicts.flatMap((v) => v.anomalies.map((a) => `${v.checker}: ${a.kind}`))),
      ].sort();
      const known = [...(KNOWN_ANOMALIES[seed] ?? [])].sort();
      if (!r.valid) console.error(describeFailure(r));
      if (JSON.stringify(found) !== JSON.stringify(known)) {
        failures.push(
          known.length === 0
            ? describeFailure(r)
            : `seed ${seed}: known anomalies ${JSON.stringify(known)}, found ${JSON.stringify(found)} (update test/known-anomalies.ts)`,
        );
      }
    }
    expect(failures).toEqual([]);
    // the runs did work: operations completed, on both cluster sizes
    expect(ops).toBeGreaterThan(COUNT * 20);
    if (COUNT >= 20) expect([...nodes].sort()).toEqual([3, 5]);
  }, 900_000);

  it('a seed replays exactly: the same faults and the same histories', async () => {
    const a = await runSchedule(FIRST + 7, { steps: STEPS, ...(dir ? { dir } : {}) });
    const b = await runSchedule(FIRST + 7, { steps: STEPS, ...(dir ? { dir } : {}) });
    expect(a.faults.length).toBeGreaterThan(0);
    const [x, y] = [lines(a), lines(b)];
    const first = x.findIndex((l, i) => l !== y[i]);
    expect(first === -1 ? '' : `record ${first}: ${x[first]} != ${y[first]}`).toBe('');
    expect(y.length).toBe(x.length);
  }, 180_000);

  it('a seed replays exactly when kills lose writes (every write held, acks waiting for disks)', async () => {
    // seed 9012 kills a replica with its round-end ack in flight (kill-at-round-end)
    const run = () => runSchedule(9012, { loseWrites: true, ...(dir ? { dir } : {}) });
    const a = await run();
    const b = await run();
    expect(a.faultCounts['kill-at-round-end']).toBeGreaterThan(0);
    const [x, y] = [lines(a), lines(b)];
    const first = x.findIndex((l, i) => l !== y[i]);
    expect(first === -1 ? '' : `record ${first}: ${x[first]} != ${y[first]}`).toBe('');
    expect(y.length).toBe(x.length);
  }, 120_000);

  it('a traced replay (--trace) runs the same schedule, and its trace shows the write a kill lost', async () => {
    // seed 9033 of `--lose-writes --forget-rounds` ('memory'): n1's node dies with its ack in
    // flight and the write of that index never lands (allowed-losses.ts)
    const options = { loseWrites: true, forgetRounds: true, ...(dir ? { dir } : {}) };
    const trace: string[] = [];
    const a = await runSchedule(9033, { ...options, trace: (l) => trace.push(l) });
    const b = await runSchedule(9033, options);
    const [x, y] = [lines(a), lines(b)];
    const first = x.findIndex((l, i) => l !== y[i]);
    expect(first === -1 ? '' : `record ${first}: ${x[first]} != ${y[first]}`).toBe('');
    expect(y.length).toBe(x.length);
    expect(
      trace.filter((l) => / n1\/kv disk: append epoch 10 index 34 .* LOST \(killed\)$/.test(l)),
    ).toHaveLength(1);
    expect(trace.some((l) => /^0 n1\/kv#0 opened: replica /.test(l))).toBe(true);
    expect(trace.some((l) => / history \{"kind":"event","event":"crash-node"/.test(l))).toBe(true);
  }, 120_000);

  it("a seed replays exactly when replicas are killed with their vote in flight, in 'fsync' (acks waiting for disks)", async () => {
    // seed 9004 kills a replica with its summary in flight (kill-at-vote); regressions.test
    // replays it as a regression, which is only as good as the replay is exact
    const run = () =>
      runSchedule(9004, {
        loseWrites: true,
        forgetRounds: true,
        durability: 'fsync',
        ...(dir ? { dir } : {}),
      });
    const a = await run();
    const b = await run();
    expect(a.faultCounts['kill-at-vote']).toBeGreaterThan(0);
    const [x, y] = [lines(a), lines(b)];
    const first = x.findIndex((l, i) => l !== y[i]);
    expect(first === -1 ? '' : `record ${first}: ${x[first]} != ${y[first]}`).toBe('');
    expect(y.length).toBe(x.length);
  }, 120_000);

  it("a seed replays exactly in 'fsync', where every ack waits for a write (several at once, faults a few turns after)", async () => {
    // every replica's write holds the simulation and they end in the order they started
    // (sim-disks.ts), or the acks sent after them go in the order the disk finished them; and
    // a fault a few turns of the event loop after a client's send counts only turns the
    // simulation ran (`turns`), not the ones the writes' real I/O took. Before, seed 9000
    // (3 nodes) differed on every run, seed 9110 (5 nodes, writes lost at kills) on about half.
    for (const [seed, loseWrites] of [
      [9000, false],
      [9110, true],
    ] as const) {
      const run = () =>
        runSchedule(seed, { loseWrites, durability: 'fsync', ...(dir ? { dir } : {}) });
      const a = await run();
      const b = await run();
      expect(a.faults.length).toBeGreaterThan(0);
      const [x, y] = [lines(a), lines(b)];
      const first = x.findIndex((l, i) => l !== y[i]);
      expect(first === -1 ? '' : `seed ${seed}, record ${first}: ${x[first]} != ${y[first]}`).toBe(
        '',
      );
      expect(y.length).toBe(x.length);
    }
  }, 180_000);

  it("a seed replays exactly with faults in the middle of protocol steps ('fsync'), and they spring", async () => {
    // seed 9021 (5 nodes) splits the cluster while a survivor's write after a confchg is in
    // flight and while a round's first ack is, and kills a replica while a join's votes are
    const run = () =>
      runSchedule(9021, {
        loseWrites: true,
        durability: 'fsync',
        midStepFaults: true,
        ...(dir ? { dir } : {}),
      });
    const a = await run();
    const b = await run();
    expect(a.valid).toBe(true);
    for (const f of ['split-at-confchg-write', 'split-at-proof', 'kill-during-join'])
      expect(a.faultCounts[`sprang:${f}`], f).toBeGreaterThan(0);
    const [x, y] = [lines(a), lines(b)];
    const first = x.findIndex((l, i) => l !== y[i]);
    expect(first === -1 ? '' : `record ${first}: ${x[first]} != ${y[first]}`).toBe('');
    expect(y.length).toBe(x.length);
  }, 180_000);

  it('a seed replays exactly however fast the wall clock runs (a quiet machine, a loaded one)', async () => {
    // The machine's load changes how much wall time each piece of work takes. Two runs: one on
    // a wall clock that stands still (no slice of work ever runs out of time), one on a wall
    // clock that leaps 50 ms at every read (every slice runs out at once, as on a machine too
    // busy to finish any); nothing the simulation decides may depend on it.
    const run = async (leap: number): Promise<string[]> => {
      let t = performance.now();
      const spy = vi.spyOn(performance, 'now').mockImplementation(() => (t += leap));
      try {
        return lines(await runSchedule(FIRST + 7, { steps: STEPS, ...(dir ? { dir } : {}) }));
      } finally {
        spy.mockRestore();
      }
    };
    const still = await run(0);
    const racing = await run(50);
    const first = still.findIndex((l, i) => l !== racing[i]);
    expect(first === -1 ? '' : `record ${first}: ${still[first]} != ${racing[first]}`).toBe('');
    expect(racing.length).toBe(still.length);
  }, 180_000);

  it('can fail: with local (stale) reads the register checker finds non-linearizable reads', async () => {
    const kinds = new Set<string>();
    for (let seed = FIRST; seed < FIRST + 12; seed++) {
      const r = await runSchedule(seed, {
        steps: STEPS,
        readConsistency: 'stale',
        ...(dir ? { dir } : {}),
      });
      for (const v of r.verdicts) for (const a of v.anomalies) kinds.add(`${v.checker}: ${a.kind}`);
    }
    expect([...kinds]).toEqual(['register (linearizability): linearizable']);
  }, 180_000);
});
