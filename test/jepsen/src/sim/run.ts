/**
 * One seeded schedule on the in-memory cluster: 3 or 5 nodes, four workloads recording their
 * histories, the nemesis faulting the cluster (sometimes right after a client's send, while
 * its entry is in flight), then every fault healed, a liveness phase (every replica must
 * converge), the final reads, and the checkers. Everything comes from the seed: the same seed
 * replays the same run (`CPGKIT_SEED=N`).
 * @module
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Random } from '@cpgkit/core/testing';
import { HistoryRecorder, type HistoryRecord } from '../history.js';
import type { Anomaly, Verdict } from '../checkers/verdict.js';
import { Nemesis, turns } from './nemesis.js';
import { SimSystem, type Service } from './system.js';
import type { Workload, WorkloadContext } from './workload.js';
import { RegisterWorkload } from './workloads/register.js';
import { SetWorkload } from './workloads/set.js';
import { LockWorkload } from './workloads/lock.js';
import { ElectionWorkload } from './workloads/election.js';
import type { Locks } from '@cpgkit/locks';
import type { Durability, ReadConsistency } from '@cpgkit/statemachine';

/** Options of one schedule. */
export interface ScheduleOptions {
  /** Number of nodes; by default 3 or 5, from the seed. */
  readonly nodes?: number;
  /** Fault steps. @defaultValue 24 */
  readonly steps?: number;
  /** Where the replicas' data directories go (a fresh directory is made inside). @defaultValue os.tmpdir() */
  readonly dir?: string;
  /**
   * The lock machine's `failoverDelay` (replicated ms before a lock or leadership taken from
   * a member against its will is granted again). With 0, a holder cut off by a partition can
   * still believe it holds the lock for the few engine steps before its own membership event
   * arrives while the majority already granted it (the detection window of the locks README);
   * the checkers report that as two holders. @defaultValue 200
   */
  readonly failoverDelay?: number;
  /**
   * How the register workload reads. `'stale'` (local reads) is not linearizable: the checker
   * finds stale reads, which shows that it can. @defaultValue 'linearizable'
   */
  readonly readConsistency?: ReadConsistency;
  /**
   * A rolling upgrade of the lock machine runs through the schedule: every node starts at an
   * older state format (`OLD_LOCKS_FORMAT`: replicas of two formats ignore each other), the
   * nemesis moves nodes to the new one among its other faults, and the last ones are moved
   * before the liveness phase. @defaultValue false
   */
  readonly upgrade?: boolean;
  /** With `upgrade`: the broken upgrade of `SystemOptions.forkNewFormat`. @defaultValue false */
  readonly forkNewFormat?: boolean;
  /**
   * A kill loses the killed process's journal write in flight and anything it would write
   * after (`SystemOptions.loseWrites`); some in-flight traps spring on acks. @defaultValue false
   */
  readonly loseWrites?: boolean;
  /**
   * With `loseWrites`: the fault `kill-at-vote` too (nemesis.ts), a replica killed the
   * instant its summary for a round is in flight, so that it forgets a round its vote counted
   * in. @defaultValue false
   */
  readonly forgetRounds?: boolean;
  /**
   * The replicas' durability mode (`SystemOptions.durability`): with `'fsync'` no kill may
   * lose an acknowledged write, whatever `loseWrites` takes. @defaultValue 'memory'
   */
  readonly durability?: Durability;
  /**
   * The nemesis also faults the middle of protocol steps (mid-step-faults.ts: a split while a
   * confchg's write is in flight, a split at a round's proof, a kill during a join's round).
   * @defaultValue false
   */
  readonly midStepFaults?: boolean;
  /**
   * Every line of a replay's trace, in the order things happened, each starting with its
   * virtual ms: the replicas' logs (the statemachine's `log`, `n<node>/<kind>#<gen>`), their
   * disk writes (epoch, index, `Q` of each, landed or lost) and every history record. Tracing
   * does not change the schedule.
   */
  readonly trace?: (line: string) => void;
}

/** What one schedule did and what the checkers said. */
export interface ScheduleResult {
  readonly seed: number;
  readonly nodes: number;
  readonly quorumDelay: number;
  /** The faults as they happened (and replicas opened). */
  readonly faults: readonly HistoryRecord[];
  readonly histories: Readonly<Record<string, readonly HistoryRecord[]>>;
  readonly verdicts: readonly Verdict[];
  readonly valid: boolean;
  /** Virtual ms the run covered. */
  readonly virtualMs: number;
  /** Wall-clock ms it took. */
  readonly wallMs: number;
  /** How many faults of each kind (`in-flight:<fault>`: at the instant a frame was in flight). */
  readonly faultCounts: Readonly<Record<string, number>>;
}

const OP_TIMEOUT = 2000;

/** Run one schedule. */
export async function runSchedule(
  seed: number,
  options: ScheduleOptions = {},
): Promise<ScheduleResult> {
  const started = performance.now();
  const rng = new Random(`jepsen:${seed}`);
  const nodes = options.nodes ?? (rng.chance(0.5) ? 3 : 5);
  const quorumDelay = [0, 0, 1, 20][rng.int(4)]!;
  const dir = await mkdtemp(join(options.dir ?? tmpdir(), 'cpgkit-jepsen-'));
  // eslint-disable-next-line prefer-const -- the recorders' clock reads the system made after them
  let system: SimSystem | undefined;
  const now = (): number => system?.now() ?? 0;
  const trace =
    options.trace === undefined
      ? undefined
      : (line: string): void => options.trace!(`${now()} ${line}`);
  const onRecord =
    trace === undefined
      ? undefined
      : (r: HistoryRecord): void => {
          const { vt: _vt, t: _t, ...rest } = r;
          trace(`history ${JSON.stringify(rest)}`);
        };
  const faults = new HistoryRecorder(now, onRecord);
  const failoverDelay = options.failoverDelay ?? 200;
  const upgrade = options.upgrade === true;
  const forkNewFormat = options.forkNewFormat === true;
  const loseWrites = options.loseWrites === true;
  system = new SimSystem({
    nodes,
    seed,
    quorumDelay,
    dir,
    rng,
    faults,
    failoverDelay,
    upgrade,
    forkNewFormat,
    loseWrites,
    ...(loseWrites && options.forgetRounds === true ? { forgetRounds: true } : {}),
    ...(options.durability === undefined ? {} : { durability: options.durability }),
    ...(options.midStepFaults === true ? { midStepFaults: true } : {}),
    ...(trace === undefined ? {} : { trace }),
  });
  const register = new RegisterWorkload(now, options.readConsistency ?? 'linearizable', onRecord);
  const set = new SetWorkload(now, onRecord);
  const lock = new LockWorkload(now, onRecord);
  const election = new ElectionWorkload(now, onRecord);
  const workloads: Workload[] = [register, set, lock, election];
  system.onCrash((s) => {
    lock.crashed(s);
    election.crashed(s);
  });
  system.onOpen((s) => {
    if (s.kind === 'locks') election.opened(s as Service<Locks>);
  });

  let stopped = false;
  const tracked: Promise<unknown>[] = [];
  const sys = system;
  const ctx: WorkloadContext = {
    system: sys,
    track(p) {
      tracked.push(p.catch(() => undefined));
    },
    rng,
    opTimeout: OP_TIMEOUT,
    sleep: (ms) => new Promise((r) => system.cluster.clock.setTimeout(() => r(), ms)),
    stopped: () => stopped,
    async drive<T>(p: Promise<T>): Promise<T> {
      let done = false;
      p.then(
        () => (done = true),
        () => (done = true),
      );
      for (let i = 0; i < 200 && !done; i++) {
        await system.cluster.runUntilIdle();
        if (!done) await system.cluster.advance(100);
      }
      return p;
    },
  };

  const verdicts: Verdict[] = [];
  const nemesis = new Nemesis(system, rng);
  try {
    await system.start();
    const running = Promise.all(workloads.map((w) => w.run(ctx)));
    const clients = running.then(() => Promise.all(tracked));
    const steps = options.steps ?? 24;
    for (let i = 0; i < steps; i++) {
      // let the clients work a while
      await system.cluster.advance(rng.int(400));
      if (rng.chance(0.5)) {
        // a fault the instant a replica's frame is in flight (accepted, not yet delivered):
        // armed, then a client operation, then the cluster runs until the trap springs
        nemesis.armInFlight();
        kick(ctx, workloads[rng.int(workloads.length)]!, i);
        for (let waited = 0; waited < 1000 && system.trapArmed; waited += 10) {
          await system.cluster.advance(10);
        }
        system.disarm();
        await system.reap();
        continue;
      }
      if (rng.chance(0.3)) {
        // or a fault a few engine steps after a client's send
        kick(ctx, workloads[rng.int(workloads.length)]!, i);
        await turns(system.cluster, rng.int(4));
      }
      await nemesis.apply(nemesis.choose());
    }
    await system.cluster.advance(rng.int(400));

    // heal everything (an upgrade finishes first), stop the clients, check that it converges
    await nemesis.finishUpgrade();
    await system.healAll();
    stopped = true;
    for (let i = 0; i < 100; i++) {
      if (
        await Promise.race([clients.then(() => true), turns(system.cluster, 2).then(() => false)])
      )
        break;
      await system.cluster.advance(200);
    }
    const live = await converge(system);
    verdicts.push(live);
    for (const w of workloads) await w.final(ctx);
    for (const w of workloads) verdicts.push(w.check());
  } finally {
    stopped = true;
    await system.stop().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
  const histories: Record<string, readonly HistoryRecord[]> = {};
  for (const w of workloads) histories[w.name] = w.history.records;
  return {
    seed,
    nodes,
    quorumDelay,
    faults: faults.records,
    histories,
    verdicts,
    valid: verdicts.every((v) => v.valid),
    virtualMs: system.now(),
    wallMs: performance.now() - started,
    faultCounts: {
      ...Object.fromEntries(nemesis.counts),
      ...(loseWrites ? { 'lost-writes': system.lostWrites } : {}),
    },
  };
}

/** One extra operation of `w`, started by the driver just before a fault (the `k`th). */
function kick(ctx: WorkloadContext, w: Workload, k: number): void {
  const nodes = ctx.system.nodes.filter((n) => w.ready(n));
  if (nodes.length === 0) return;
  const n = nodes[ctx.rng.int(nodes.length)]!;
  ctx.track(w.step(ctx, n, `${w.name}.kick${k}`));
}

/**
 * The liveness phase: after healing, every replica must be ready with the digest of its
 * peers within 60 virtual seconds.
 */
async function converge(system: SimSystem): Promise<Verdict> {
  const status = (): { ok: boolean; why: string } => {
    for (const kind of ['kv', 'locks'] as const) {
      const ss = system.nodes.map((n) => system.service(n, kind));
      const bad = ss.filter(
        (s) => s === undefined || !s.alive || s.handle.machine.status !== 'ready',
      );
      if (bad.length > 0) {
        return {
          ok: false,
          why: `${kind}: ${ss.map((s, i) => `n${i + 1} ${s?.alive === true ? s.handle.machine.status : 'dead'}`).join(', ')}`,
        };
      }
      const digests = new Set(ss.map((s) => s!.handle.machine.digest()));
      if (digests.size > 1) return { ok: false, why: `${kind}: ${digests.size} different digests` };
    }
    return { ok: true, why: '' };
  };
  let s = status();
  for (let i = 0; i < 60 && !s.ok; i++) {
    await system.cluster.advance(1000);
    s = status();
  }
  const anomalies: Anomaly[] = s.ok
    ? []
    : [
        {
          kind: 'liveness',
          message: `60 virtual seconds after every fault was healed the replicas have not converged: ${s.why}`,
          window: [],
        },
      ];
  return { checker: 'liveness', valid: s.ok, anomalies, stats: {} };
}
