import { describe, it, expect } from 'vitest';
import { MemoryCluster, Random } from '../src/testing.js';
import type { Group } from '../src/group.js';
import type { MemberId } from '../src/types.js';

const enc = new TextEncoder();

const key = (m: MemberId): string => `${m.nodeid}:${m.pid}`;
const list = (l: readonly MemberId[]): string => l.map(key).join(',');

/** A watched member's id, or `-` when it never got one (its connect failed). */
function selfKey(w: Watched): string {
  try {
    return key(w.g.self);
  } catch {
    return '-';
  }
}

/** What one member saw: its member lists, and per ring change the lists that led to it. */
interface Watched {
  readonly g: Group;
  readonly node: number;
  /** Every member list delivered to it. */
  readonly views: string[];
  /** `previous ring -> ring`: the member lists delivered between the two totem events. */
  readonly changes: Map<string, string[]>;
  /** Events, for failure messages. */
  readonly log: string[];
  /** The last member list delivered to it includes it. */
  member: boolean;
  dead: boolean;
  paused: boolean;
}

function watch(g: Group, node: number): Watched {
  const w: Watched = {
    g,
    node,
    views: [],
    changes: new Map(),
    log: [],
    member: false,
    dead: false,
    paused: false,
  };
  let inGroup = false;
  let initial = true;
  let prev = '';
  let pending: string[] = [];
  g.on('membership', (e) => {
    const l = list(e.members);
    w.views.push(l);
    w.log.push(`c [${l}]`);
    pending.push(l);
    w.member = e.members.some((m) => key(m) === key(g.self));
    if (w.member) inGroup = true;
  });
  g.on('totem', (e) => {
    const ring = `${e.ringId.nodeid}/${e.ringId.seq}`;
    w.log.push(`t ${ring}`);
    // The first totem event after our join is the initial one (the ring we joined in).
    if (inGroup && initial) initial = false;
    else if (inGroup && g.joined) w.changes.set(`${prev}->${ring}`, pending);
    prev = ring;
    pending = [];
  });
  void g.closed().then(() => {
    w.dead = true;
  });
  return w;
}

/**
 * What corosync guarantees about member lists (problems, empty when it holds):
 * - a member list delivered to one member is delivered to every member it names that is
 *   still a member at the end (no one is shown a configuration the others never installed);
 * - members that pass together from one ring to the next see the same member lists on the
 *   way (one may see a suffix of the other's, having joined later).
 */
function viewProblems(all: readonly Watched[]): string[] {
  const problems: string[] = [];
  const live = new Map(all.filter((w) => !w.dead && w.g.joined).map((w) => [selfKey(w), w]));
  for (const w of all) {
    for (const v of new Set(w.views)) {
      for (const who of v.split(',')) {
        const other = live.get(who);
        if (other && other !== w && !other.views.includes(v)) {
          problems.push(`[${v}] was delivered to ${selfKey(w)} but never to ${who}`);
        }
      }
    }
  }
  const byChange = new Map<string, { who: string; lists: string[] }[]>();
  for (const w of all) {
    for (const [change, lists] of w.changes) {
      const l = byChange.get(change) ?? [];
      l.push({ who: selfKey(w), lists });
      byChange.set(change, l);
    }
  }
  for (const [change, seen] of byChange) {
    const first = seen[0]!;
    for (const s of seen.slice(1)) {
      const [a, b] = [first.lists.join(' | '), s.lists.join(' | ')];
      if (!a.endsWith(b) && !b.endsWith(a)) {
        problems.push(`ring change ${change}: ${first.who} saw ${a}; ${s.who} saw ${b}`);
      }
    }
  }
  return problems;
}

describe('MemoryCluster member lists', () => {
  it('a member joining while partitions are under way, with a paused member, shares its ring’s member lists (seed 12)', async () => {
    const cluster = new MemoryCluster({ nodes: 3, seed: 12 });
    const [a, b, c] = [1, 2, 3].map((n) => cluster.transport(n)) as [Group, Group, Group];
    const watched = [a, b, c].map((g, i) => watch(g, i + 1));
    for (const g of [a, b, c]) await g.join('p');
    await cluster.runUntilIdle();
    cluster.pause(c);
    watched[2]!.paused = true;
    cluster.partition([2, 3]); // [1] | [2, 3]
    cluster.partition([1, 3]); // before the engine ran: [1, 3] | [2]
    const d = cluster.transport(2);
    const wd = watch(d, 2);
    watched.push(wd);
    const joined = d.join('p'); // during the membership change
    void a.send(enc.encode('x'));
    await cluster.runUntilIdle();
    await joined;
    // d joins in the ring of its side: a and c, on the other side, never see it join there,
    // so it must not see them as members either.
    expect(wd.views[0]).toBe(list([b.self, d.self]));
    cluster.partition([3]); // [3] | [1, 2]
    await cluster.runUntilIdle();
    cluster.heal();
    await cluster.runUntilIdle();
    cluster.resume(c);
    await cluster.runUntilIdle();
    expect(viewProblems(watched)).toEqual([]);
    const everyone = list([a.self, b.self, d.self, c.self].sort((x, y) => x.nodeid - y.nodeid));
    for (const g of [a, b, c, d]) expect(list(g.members())).toBe(everyone);
    cluster.destroy();
  });

  it('a join in flight at a partition reaches every side: whoever it names sees it', async () => {
    const outcomes = new Set<string>();
    for (let seed = 0; seed < 30; seed++) {
      const cluster = new MemoryCluster({ nodes: 3, seed });
      const [a, c] = [1, 3].map((n) => cluster.transport(n)) as [Group, Group];
      const watched = [watch(a, 1), watch(c, 3)];
      await a.join('f');
      await c.join('f');
      await cluster.runUntilIdle();
      const d = cluster.transport(2);
      watched.push(watch(d, 2));
      const joined = d.join('f');
      await Promise.resolve(); // the join request is with the engine, not ordered yet
      cluster.partition([2]);
      await cluster.runUntilIdle();
      await joined;
      expect(viewProblems(watched), `seed ${seed}`).toEqual([]);
      expect(d.members(), `seed ${seed}`).toEqual([d.self]);
      expect(a.members(), `seed ${seed}`).toEqual([a.self, c.self]);
      outcomes.add(watched[0]!.views.join(' '));
      cluster.destroy();
    }
    // the join was ordered before the split: a saw d join, then leave with its node
    expect(outcomes.size).toBe(1);
  });

  it('hold over seeded schedules of partitions, pauses, node and process crashes and restarts', async () => {
    let changes = 0;
    for (let seed = 0; seed < 150; seed++) {
      const rng = new Random(`views-${seed}`);
      const nodes = 3 + rng.int(3);
      const cluster = new MemoryCluster({ nodes, seed });
      const all: Watched[] = [];
      const spawn = async (n: number, wait: boolean): Promise<void> => {
        if (!cluster.isUp(n)) return;
        const g = cluster.transport(n);
        const w = watch(g, n);
        all.push(w);
        const p = g.join('v').catch(() => {
          w.dead = true;
        });
        if (wait) await p;
      };
      for (const n of cluster.nodeIds) await spawn(n, true);
      const ops: string[] = [];
      for (let step = 0; step < 40; step++) {
        // (a join still in progress cannot be left: corosync answers CS_ERR_BUSY)
        const live = all.filter((w) => !w.dead && w.member);
        const pick = (): Watched | undefined => live[rng.int(live.length)];
        const op = rng.int(12);
        if (op <= 1) {
          const k = 2 + rng.int(nodes - 1);
          const sides: number[][] = Array.from({ length: k }, () => []);
          for (const n of cluster.nodeIds) sides[rng.int(k)]!.push(n);
          cluster.partition(...sides.filter((s) => s.length > 0));
          ops.push(`partition ${JSON.stringify(sides)}`);
        } else if (op === 2) {
          cluster.heal();
          ops.push('heal');
        } else if (op === 3) {
          const w = pick();
          if (w && !w.paused) {
            w.paused = true;
            cluster.pause(w.g);
            ops.push(`pause ${selfKey(w)}`);
          }
        } else if (op === 4) {
          const w = all.find((x) => x.paused && !x.dead);
          if (w) {
            w.paused = false;
            cluster.resume(w.g);
            ops.push(`resume ${selfKey(w)}`);
          }
        } else if (op === 5) {
          const w = pick();
          if (w) {
            w.dead = true;
            cluster.crashProcess(w.g);
            ops.push(`crashProcess ${selfKey(w)}`);
          }
        } else if (op === 6) {
          const n = 1 + rng.int(nodes);
          await spawn(n, false);
          ops.push(`spawn ${n}`);
        } else if (op === 7) {
          const w = pick();
          if (w && !w.paused) {
            void w.g.leave().catch(() => {});
            ops.push(`leave ${selfKey(w)}`);
          }
        } else if (op === 8 && rng.chance(0.4)) {
          const n = 1 + rng.int(nodes);
          for (const w of all) if (w.node === n) w.dead = true;
          cluster.crashNode(n);
          ops.push(`crashNode ${n}`);
        } else if (op === 9) {
          const n = 1 + rng.int(nodes);
          cluster.restartNode(n);
          ops.push(`restartNode ${n}`);
        } else {
          for (const w of live) void w.g.send(enc.encode('m')).catch(() => {});
          ops.push('send');
        }
        const wait = rng.int(3);
        if (wait === 0) await cluster.runUntilIdle();
        else if (wait === 1) await new Promise((r) => setImmediate(r));
      }
      cluster.heal();
      for (const n of cluster.nodeIds) cluster.restartNode(n);
      for (const w of all) {
        if (w.paused) {
          w.paused = false;
          cluster.resume(w.g);
        }
      }
      await cluster.runUntilIdle();
      const why = (): string =>
        `seed ${seed}\n${ops.join('\n')}\n${all.map((w) => `${selfKey(w)}: ${w.log.join(' ')}`).join('\n')}`;
      expect(viewProblems(all), why()).toEqual([]);
      // Healed, every node up, nobody paused: one component, quorate, one member list, which
      // is exactly the members still joined (crashed processes are gone for good).
      expect(cluster.components(), why()).toEqual([[...cluster.nodeIds]]);
      expect(
        cluster.nodeIds.every((n) => cluster.isQuorate(n)),
        why(),
      ).toBe(true);
      const members = all.filter((w) => !w.dead && w.g.joined).map((w) => w.g.self);
      members.sort((x, y) => x.nodeid - y.nodeid || x.pid - y.pid);
      for (const w of all) {
        if (!w.dead && w.g.joined) expect(list(w.g.members()), why()).toBe(list(members));
      }
      for (const w of all) changes += w.changes.size;
      cluster.destroy();
    }
    expect(changes).toBeGreaterThan(1000);
  }, 60_000);
});
