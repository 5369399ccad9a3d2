/**
 * Seeded random schedules on the in-memory cluster of 3 nodes (or 5, one seed in three):
 * commands interleaved with joins, graceful leaves, process crashes and restarts FROM THEIR
 * DATA DIRECTORIES (the same replica id, the state as it was at the crash), node crashes and
 * restarts, partitions (also while messages are in flight, which the cluster then delivers on
 * every side or on the sender's side only), merges and pauses (also across a sync round).
 *
 * Two schedules in three get their quorum events late (1 or 20 virtual ms after the membership
 * change), as libquorum's events come on corosync.
 *
 * Half the schedules run with `durability: 'fsync'`, where no crash may lose an acknowledged
 * write: there a crash may be hard (no flush first: what its disk had not written is lost,
 * crash-disks.ts), or spring at the instant a member's next write starts (pending: dropped)
 * or runs (landed, lost or torn), and a node crash kills its processes' disks too. A crash
 * may restart the member from its data directory at once. In 'memory' mode a crash flushes
 * first (below, `kill`): a disk behind memory is the window the README documents.
 *
 * Invariants, checked on every run:
 * - after every idle step (the cluster run until idle): synced members of one component have equal digests;
 * - nothing is applied while the member's component is not decided quorate;
 * - each member's index increases by one with every applied entry; the final log's indexes
 *   strictly increase, and every entry in it was applied by some member at that index;
 * - no acknowledged write is lost or moved: a command whose `dispatch` resolved (whoever sent
 *   it, dead or alive at the end) is in the final state at the index its sender applied it;
 * - after healing: if a strict majority of the replica set `Q` of the newest surviving state
 *   is alive, every live member is `ready` with the same digest; otherwise every live member
 *   is stuck safely (`minority`, or `syncing` when nobody alive holds state).
 *
 * Not an invariant: a command applied at the instant of a partition on a side that ends in a
 * minority, and so never acknowledged, is rolled back at the merge (see README, "Durability").
 *
 * The three first members bootstrap the store; members spawned later join an existing
 * cluster (`bootstrap: false`), as a deployment would (see README, "Bootstrap").
 */
import { describe, it } from 'vitest';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { MemoryCluster } from '@cpgkit/core/testing';
import { InterruptedError, type GroupTransport } from '@cpgkit/core';
import { ReplicatedStateMachine, type MachineDefinition } from '../src/index.js';
import { inspectReplica } from '../src/internal.js';
import { jointMajority } from '../src/sync.js';
import { replayFromEnv, runsFromEnv, seedFromEnv } from '../../../test/seeded.js';
import { runUntilSettled } from './close-running.js';
import { slowDisksMaxMs } from './slow-disks.js';
import {
  crashAtWrite,
  crashCounts,
  crashDir,
  disarmWriteTrap,
  resetCrashCounts,
} from './crash-disks.js';

interface Log {
  /** "index:value" of every command applied, in order. */
  log: string[];
}
type Add = { add: number };

/** Remembers where every command was applied, so that a lost or moved write shows. */
const indexed: MachineDefinition<Log, Add, number> = {
  name: 'indexed',
  initial: () => ({ log: [] }),
  apply(draft, cmd, ctx) {
    draft.log.push(`${ctx.index}:${cmd.add}`);
    return draft.log.length;
  },
};

type Step =
  | { t: 'send'; m: number; flush: boolean }
  | { t: 'partition'; cut: number }
  | { t: 'heal' }
  | { t: 'crash'; m: number; hard: boolean; restart: boolean }
  | { t: 'crashAtWrite'; m: number; running: boolean }
  | { t: 'restart'; m: number }
  | { t: 'leave'; m: number }
  | { t: 'spawn'; node: number }
  | { t: 'crashNode'; node: number }
  | { t: 'restartNode'; node: number }
  | { t: 'pause'; m: number }
  | { t: 'resume' }
  | { t: 'idle' }
  | { t: 'advance'; ms: number };

const node = fc.integer({ min: 1, max: 5 });
const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({ t: fc.constant('send' as const), m: fc.nat(7), flush: fc.boolean() }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      t: fc.constant('partition' as const),
      cut: fc.integer({ min: 1, max: 30 }),
    }),
  },
  { weight: 2, arbitrary: fc.constant({ t: 'heal' as const }) },
  {
    weight: 1,
    arbitrary: fc.record({
      t: fc.constant('crash' as const),
      m: fc.nat(7),
      hard: fc.boolean(),
      restart: fc.boolean(),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      t: fc.constant('crashAtWrite' as const),
      m: fc.nat(7),
      running: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('restart' as const), m: fc.nat(7) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('leave' as const), m: fc.nat(7) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('spawn' as const), node }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('crashNode' as const), node }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('restartNode' as const), node }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('pause' as const), m: fc.nat(7) }) },
  { weight: 1, arbitrary: fc.constant({ t: 'resume' as const }) },
  { weight: 3, arbitrary: fc.constant({ t: 'idle' as const }) },
  {
    weight: 1,
    arbitrary: fc.record({
      t: fc.constant('advance' as const),
      ms: fc.integer({ min: 1, max: 5000 }),
    }),
  },
);

type SM = ReplicatedStateMachine<Log, Add, number>;

interface Member {
  readonly sm: SM;
  readonly group: GroupTransport;
  readonly node: number;
  readonly name: string;
  /** Its data directory (a restart with it is the same replica). */
  readonly dataDir: string;
  dead: boolean;
  /** Killed (not closed): may be restarted from its data directory. */
  crashed: boolean;
  paused: boolean;
  lastIndex: bigint;
  /** `Q` when the last change was seen: a retire moves the index without a change. */
  lastQ: number;
}

const SIDES = [[1], [2], [3], [1, 2], [1, 3], [2, 3]];

/** The side a `partition` step cuts off: of 3 nodes as before, of 5 a subset by bits. */
function sideOf(cut: number, nodes: number): number[] {
  if (nodes === 3) return SIDES[(cut - 1) % SIDES.length]!;
  const bits = ((cut - 1) % 30) + 1;
  return [1, 2, 3, 4, 5].filter((n) => bits & (1 << (n - 1)));
}

/** tmpfs where there is one: thousands of schedules write (and fsync) their data directories. */
const DATA_ROOT = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();

/** Outcome counts, printed with CPGKIT_RANDOM_STATS=1. */
const stats: Record<string, number> | undefined = process.env.CPGKIT_RANDOM_STATS ? {} : undefined;

/** One schedule; throws with the seed and the first problems when an invariant breaks. */
export async function run(seed: number, steps: Step[]): Promise<void> {
  const quorumDelay = [0, 1, 20][seed % 3]!;
  const nodes = seed % 3 === 0 ? 5 : 3;
  const cluster = new MemoryCluster({ nodes, seed, quorumDelay });
  // 'fsync': nothing acknowledged may be lost, whatever crashes, so crashes may be hard
  const fsync = Math.floor(seed / 3) % 2 === 1;
  resetCrashCounts(seed);
  const root = await mkdtemp(join(DATA_ROOT, 'cpgkit-random-'));
  const onNode = (n: number): number => ((n - 1) % nodes) + 1;
  const members: Member[] = [];
  /** Acknowledged value -> where its sender applied it. */
  const acked = new Map<number, { by: Member; at: string }>();
  /** value -> "index:value" where its sender applied it. */
  const appliedAt = new Map<number, string>();
  /** Values whose dispatch rejected with InterruptedError ("not applied"). */
  const notApplied = new Set<number>();
  /** Every "index:value" any member applied. */
  const everApplied = new Set<string>();
  let next = 1;
  const problems: string[] = [];
  const trace: string[] | undefined = process.env.CPGKIT_TRACE ? [] : undefined;

  const spawn = async (
    n: number,
    bootstrap: boolean,
    dataDir = join(root, `m${members.length}`),
  ): Promise<void> => {
    if (!cluster.isUp(n)) return;
    const group = cluster.member(n);
    const name = `${n}/${members.length}`;
    let sm: SM;
    try {
      sm = await ReplicatedStateMachine.open(group, indexed, {
        checkInterval: 2000,
        syncTimeout: 1000,
        bootstrap,
        dataDir,
        durability: fsync ? 'fsync' : 'memory',
        // CPGKIT_TRACE=live prints as it goes (for a schedule that hangs)
        ...(trace
          ? {
              log: (l: string) =>
                process.env.CPGKIT_TRACE === 'live'
                  ? console.log(`${name}: ${l}`)
                  : trace.push(`${name}: ${l}`),
            }
          : {}),
      });
    } catch {
      return;
    }
    const m: Member = {
      sm,
      group,
      node: n,
      name,
      dataDir,
      dead: false,
      crashed: false,
      paused: false,
      lastIndex: 0n,
      lastQ: 0,
    };
    sm.subscribe((c) => {
      if (c.kind === 'sync') {
        m.lastIndex = sm.index; // may go back past never-acknowledged entries (see above)
        m.lastQ = sm.replicas.length;
        return;
      }
      const idx = c.kind === 'membership' ? c.change.index : c.ctx.index;
      const retired = BigInt(Math.max(0, m.lastQ - sm.replicas.length));
      if (idx < m.lastIndex + 1n || idx > m.lastIndex + 1n + retired)
        problems.push(`${name}: index ${idx} after ${m.lastIndex}`);
      m.lastIndex = idx;
      m.lastQ = sm.replicas.length;
      if (!inspectReplica(sm).decisionQuorate)
        problems.push(`${name}: applied index ${idx} in a non-quorate round`);
      if (c.kind === 'command' && c.ok) {
        const at = `${idx}:${c.command.add}`;
        everApplied.add(at);
        if (c.ctx.sender.incarnation === sm.incarnation) appliedAt.set(c.command.add, at);
      }
    });
    sm.on('closed', () => {
      m.dead = true;
    });
    members.push(m);
  };
  const live = (): Member[] => members.filter((m) => !m.dead);
  const pick = (i: number): Member | undefined => {
    const l = live();
    return l.length === 0 ? undefined : l[i % l.length];
  };
  const checkComponents = (): void => {
    for (const comp of cluster.components()) {
      const synced = live().filter(
        (m) => comp.includes(m.node) && !m.paused && m.sm.status !== 'syncing',
      );
      // the engine is idle: every running member of a component sees the same member list
      const running = live().filter((m) => comp.includes(m.node) && !m.paused);
      const views = new Set(
        running.map((m) =>
          m.group
            .members()
            .map((x) => `${x.nodeid}:${x.pid}`)
            .join(','),
        ),
      );
      if (views.size > 1) problems.push(`component [${comp.join(',')}] member lists differ`);
      const digests = new Set(synced.map((m) => m.sm.digest()));
      if (digests.size > 1) {
        problems.push(
          `component [${comp.join(',')}] diverged: ${synced.map((m) => `${m.name}/${m.sm.status}/${m.sm.index}/${m.sm.state.log.length}`).join(' ')}`,
        );
      }
    }
  };

  /**
   * Run `io` (disk reads and writes, which take real time) while every live process is
   * paused and the engine idle, so that how long the disk takes changes nothing: the schedule
   * stays a function of the seed (`CPGKIT_REPLAY` replays it exactly).
   */
  const frozen = async (io: () => Promise<void>): Promise<void> => {
    const stopped = live().filter((x) => !x.paused);
    for (const x of stopped) cluster.pause(x.group);
    await cluster.runUntilIdle();
    await io();
    for (const x of stopped) if (!x.dead) cluster.resume(x.group);
  };
  const count = (what: string): void => {
    if (stats !== undefined) stats[what] = (stats[what] ?? 0) + 1;
  };
  /**
   * Kill a member's process. In 'memory' mode its data directory holds what its memory held
   * (flushed while nothing moves, then killed): a disk that lags behind memory is the
   * durability window the README documents, not what this checks. In 'fsync' mode, `hard`:
   * its disk as it is (its writes not yet made are lost, crash-disks.ts), still with no write
   * running (frozen), so that the schedule stays the seed's.
   */
  const kill = async (m: Member, hard: boolean): Promise<void> => {
    const flush = !(fsync && hard);
    await frozen(() => (flush ? m.sm.flush().catch(() => undefined) : Promise.resolve()));
    if (!flush) count('hardCrashes');
    m.dead = true;
    m.crashed = true;
    cluster.crashProcess(m.group);
  };
  /** Start a crashed member again on its node, from its data directory. */
  const restart = async (m: Member): Promise<void> => {
    if (!m.crashed || !cluster.isUp(m.node)) return;
    m.crashed = false;
    await frozen(() => spawn(m.node, false, m.dataDir));
  };

  /** Members closing (a close writes to disk before it leaves the group). */
  const closing: Promise<void>[] = [];
  for (const n of [1, 2, 3]) await frozen(() => spawn(n, true));
  await cluster.runUntilIdle();
  if (quorumDelay > 0) await cluster.advance(quorumDelay);
  for (const s of steps) {
    switch (s.t) {
      case 'send': {
        const m = pick(s.m);
        if (m === undefined || m.paused) break;
        const v = next++;
        m.sm.dispatch({ add: v }).then(
          () => acked.set(v, { by: m, at: appliedAt.get(v) ?? '?' }),
          (e: unknown) => {
            // "not applied, retry": it must never show up anywhere
            if (e instanceof InterruptedError) notApplied.add(v);
          },
        );
        // let the group's outbox hand the message to the engine, so that a fault in the next
        // step finds it in flight (delivered on some sides of a partition only)
        if (s.flush) for (let i = 0; i < 4; i++) await Promise.resolve();
        break;
      }
      case 'partition':
        cluster.partition(sideOf(s.cut, nodes));
        break;
      case 'heal':
        cluster.heal();
        break;
      case 'crash': {
        const m = pick(s.m);
        if (m === undefined) break;
        await kill(m, s.hard);
        // at once from its data directory (a supervisor restarting it)
        if (s.restart) await restart(m);
        break;
      }
      case 'crashAtWrite': {
        // 'memory' acknowledges from memory: a write lost there is the documented window
        const m = pick(s.m);
        if (!fsync || m === undefined) break;
        const dir = m.dataDir;
        // the member on that directory when its next write starts (a restart may come first)
        crashAtWrite(dir, s.running ? 'running' : 'before', () => {
          const victim = live().find((x) => x.dataDir === dir);
          if (victim === undefined) return;
          count(s.running ? 'crashesAtRunningWrite' : 'crashesAtPendingWrite');
          victim.dead = true;
          victim.crashed = true;
          cluster.crashProcess(victim.group);
        });
        break;
      }
      case 'restart': {
        const dead = members.filter((x) => x.crashed);
        const m = dead[s.m % Math.max(1, dead.length)];
        if (m !== undefined) await restart(m);
        break;
      }
      case 'leave': {
        const m = pick(s.m);
        if (m === undefined || m.paused) break;
        m.dead = true;
        closing.push(m.sm.close());
        break;
      }
      case 'spawn':
        if (live().length < 6) await frozen(() => spawn(onNode(s.node), false));
        break;
      case 'crashNode': {
        const n = onNode(s.node);
        const victims = live().filter((m) => m.node === n);
        // 'memory': flushed first (see kill). 'fsync': the node's processes die with it (they
        // are restarted from their data directories), their disks as they are
        await frozen(async () => {
          if (!fsync) for (const m of victims) await m.sm.flush().catch(() => undefined);
        });
        for (const m of victims) {
          m.dead = true;
          m.crashed = true;
          if (fsync) crashDir(m.dataDir);
        }
        cluster.crashNode(n);
        // The in-memory cluster loses the node's members' departure when restartNode comes
        // before its engine ran the crash (they stay in the member list): let it run first.
        await cluster.runUntilIdle();
        break;
      }
      case 'restartNode':
        cluster.restartNode(onNode(s.node));
        break;
      case 'pause': {
        const m = pick(s.m);
        if (m === undefined || m.paused) break;
        m.paused = true;
        cluster.pause(m.group);
        break;
      }
      case 'resume': {
        const m = members.find((x) => x.paused && !x.dead);
        if (m === undefined) break;
        m.paused = false;
        cluster.resume(m.group);
        break;
      }
      case 'idle':
        await cluster.runUntilIdle();
        checkComponents();
        break;
      case 'advance':
        await cluster.advance(s.ms);
        checkComponents();
        break;
    }
  }
  // heal everything, restart every crashed member from its data directory, and converge
  for (const m of members) disarmWriteTrap(m.dataDir);
  cluster.heal();
  for (const n of cluster.nodeIds) cluster.restartNode(n);
  await cluster.runUntilIdle();
  for (const m of members.filter((x) => x.crashed)) await restart(m);
  for (const m of members) {
    if (m.paused && !m.dead) {
      m.paused = false;
      cluster.resume(m.group);
    }
  }
  await cluster.runUntilIdle();
  await cluster.advance(10_000);
  // A closing member holds its sync rounds until it has left; its close waits on both clocks
  // (close-running.ts)
  const closed = Promise.all(closing);
  closed.catch((e: unknown) => problems.push(`a close failed: ${String(e)}`));
  if (!(await runUntilSettled(cluster, closed, 20_000)))
    problems.push('a close did not end within 20 s of real time');
  await cluster.runUntilIdle();
  await cluster.advance(10_000);
  await cluster.runUntilIdle();
  checkComponents();

  const alive = live();
  const holders = alive.filter((m) => inspectReplica(m.sm).hasState);
  // the newest surviving state (as the sync leader picks it) and its replica set
  let best: Member | undefined;
  for (const m of holders) {
    if (
      best === undefined ||
      m.sm.epoch > best.sm.epoch ||
      (m.sm.epoch === best.sm.epoch && m.sm.index > best.sm.index)
    )
      best = m;
  }
  const q = best?.sm.replicas ?? [];
  const survivors = new Set(holders.map((m) => m.sm.replicaId));
  // a majority of its `Q` and, while its epoch is unproven, of `P` (the joint rule: sync.ts)
  const lineage = best === undefined ? undefined : inspectReplica(best.sm).lineage;
  const majority =
    lineage !== undefined &&
    q.length > 0 &&
    jointMajority(
      survivors,
      { replicas: lineage.replicas, gone: lineage.gone },
      { replicas: lineage.provenReplicas, gone: lineage.provenGone },
    );
  const want = best === undefined ? 'syncing' : majority ? 'ready' : 'minority';
  if (stats !== undefined) {
    stats[want] = (stats[want] ?? 0) + 1;
    stats.acked = (stats.acked ?? 0) + acked.size;
    for (const k of ['dropped', 'lost', 'torn', 'landed'] as const)
      stats[`${k}Writes`] = (stats[`${k}Writes`] ?? 0) + crashCounts[k];
  }
  for (const m of alive) {
    if (m.sm.status !== want) {
      problems.push(
        `${m.name} is ${m.sm.status}, not ${want}, after healing (Q ${q.length}, ${[...survivors].filter((r) => q.includes(r)).length} alive; P ${lineage?.provenReplicas.length ?? 0}, ${[...survivors].filter((r) => lineage?.provenReplicas.includes(r) === true).length} alive)`,
      );
    }
  }
  if (want === 'ready' && best !== undefined) {
    const ref = best.sm;
    for (const m of alive)
      if (m.sm.digest() !== ref.digest()) problems.push(`${m.name} did not converge`);
    const final = ref.state.log;
    let last = 0n;
    for (const e of final) {
      const i = BigInt(e.split(':')[0]!);
      if (i <= last) problems.push(`final log index ${i} after ${last}`);
      last = i;
      if (!everApplied.has(e)) problems.push(`final entry ${e} was never applied by anyone`);
    }
    const finalSet = new Set(final);
    for (const [v, { by, at }] of acked)
      if (!finalSet.has(at)) problems.push(`acknowledged value ${v} (${at}, from ${by.name}) lost`);
    for (const e of final)
      if (notApplied.has(Number(e.split(':')[1])))
        problems.push(`${e} was applied, but its sender was told it was not (InterruptedError)`);
  }
  for (const m of members) if (!m.dead) await m.sm.close();
  cluster.destroy();
  await rm(root, { recursive: true, force: true });
  if (problems.length > 0 && trace) console.log(trace.join('\n'));
  if (problems.length > 0) throw new Error(`seed ${seed}: ${problems.slice(0, 5).join('; ')}`);
}

describe('random schedules on the in-memory cluster', () => {
  // CPGKIT_SEED, CPGKIT_RUNS, CPGKIT_REPLAY='[seed, steps]' (see test/seeded.ts) replays one
  // schedule; CPGKIT_TRACE=1 prints its machines' logs. CPGKIT_RANDOM_SEED and
  // CPGKIT_RANDOM_RUNS, the older names, still work.
  const replay = replayFromEnv<[number, Step[]]>();
  if (replay !== undefined) {
    it('replays one schedule', async () => {
      const [seed, steps] = replay;
      await run(seed, steps);
    });
  }
  it('never apply without quorum, never lose an acknowledged write, converge or stay stuck safely', async () => {
    // with slow disks (CPGKIT_SLOW_DISKS) a schedule waits for its writes in real time (each
    // round's end waits for one): 2000 of them take hours, 100 fit the test's 600 s
    const runs = runsFromEnv(slowDisksMaxMs() > 0 ? 100 : 2000, 'CPGKIT_RANDOM_RUNS');
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 1 << 30 }),
        fc.array(step, { minLength: 4, maxLength: Number(process.env.CPGKIT_RANDOM_STEPS ?? 24) }),
        run,
      ),
      {
        // a schedule that hangs fails with its counterexample instead of the whole file
        timeout: 30_000,
        seed: seedFromEnv(20261125, 'CPGKIT_RANDOM_SEED'),
        numRuns: runs,
        endOnFailure: true,
      },
    );
    if (stats !== undefined) console.log(`outcomes of ${runs} schedules: ${JSON.stringify(stats)}`);
  }, 600_000);
});
