import { describe, expect, it } from 'vitest';
import type { DriverSink } from '../src/driver.js';
import { SimConnection, type InboxItem, type SimEngine } from '../src/sim/connection.js';
import { newComponent, type Component, type SimNode, type Views } from '../src/sim/model.js';
import type { Effect } from '../src/sim/ordering.js';
import { Random } from '../src/sim/random.js';
import { reconfigure, targetComponents, type ClusterView } from '../src/sim/reconfigure.js';

// The pure reconfiguration on hand-built components: what each side is told, in which
// order, and that nothing it was given changes.

const engine = {} as SimEngine; // reconfigure never calls a connection
const sink = {} as DriverSink;
let nextId = 0;

function conn(nodeid: number, pid: number): SimConnection {
  const c = new SimConnection(engine, { nodeid, pid }, nextId++, sink, false, 1024, 0);
  c.state = 'joined';
  c.key = 'g';
  return c;
}

function nodes(count: number, patch: Partial<Record<number, Partial<SimNode>>> = {}) {
  const map = new Map<number, SimNode>();
  for (let id = 1; id <= count; id++) {
    map.set(id, { id, up: true, incarnation: 0, link: 0, quorate: true, ...patch[id] });
  }
  return map;
}

function world(n: Map<number, SimNode>, conns: SimConnection[], ringSeq = 1n): ClusterView {
  return { nodes: n, conns, expectedVotes: n.size, ringSeq };
}

/** A one-line summary per effect, with connections as `node:pid`. */
function describeEffects(effects: readonly Effect[]): string[] {
  const who = (c: SimConnection): string => `${c.local.nodeid}:${c.local.pid}`;
  const what = (item: InboxItem): string => {
    switch (item.kind) {
      case 'confchg': {
        const ids = item.members.map((m) => `${m.nodeid}:${m.pid}`).join(',');
        const j = item.joined.map((m) => `${m.nodeid}:${m.pid}/${m.reason}`).join(',');
        const l = item.left.map((m) => `${m.nodeid}:${m.pid}/${m.reason}`).join(',');
        return `confchg [${ids}] +[${j}] -[${l}]`;
      }
      case 'totem':
        return `totem ${item.ring.seq} [${item.nodes.join(',')}]`;
      case 'quorum':
        return `quorum ${item.quorate}`;
      case 'mcast':
        return `mcast ${new TextDecoder().decode(item.data)}`;
    }
  };
  return effects.map((e) => {
    switch (e.kind) {
      case 'push':
        return `${who(e.args[0])} <- ${what(e.args[1])}`;
      case 'lingering':
        return `lingering ${e.args[0]}`;
      case 'joined':
        return `joined ${who(e.args[0])}`;
      case 'left':
        return `left ${who(e.args[0])}`;
      case 'ordered':
        return 'ordered';
      case 'nodeQuorate':
        return `node ${e.args[0]} quorate ${e.args[1]}`;
      case 'quorum':
        return `${who(e.args[0])} <- quorum ${e.args[1]} of ${e.args[2].ringSeq} [${e.args[2].nodes.join(',')}]`;
    }
  });
}

function threeNodeGroup(): {
  n: Map<number, SimNode>;
  comp: Component;
  a: SimConnection;
  b: SimConnection;
  c: SimConnection;
} {
  const n = nodes(3);
  const a = conn(1, 10);
  const b = conn(2, 20);
  const c = conn(3, 30);
  const views: Views = new Map([['g', [a, b, c]]]);
  const comp = newComponent([1, 2, 3], views, 1n, 3, n);
  return { n, comp, a, b, c };
}

describe('reconfigure', () => {
  it('splits a component: each side sees the others leave with nodedown, then totem and a quorum view of the new ring', () => {
    const { n, comp, a, b, c } = threeNodeGroup();
    const out = reconfigure([comp], [[1], [2, 3]], new Random(1), world(n, [a, b, c]));
    expect(out.changed).toBe(true);
    expect(out.components.map((x) => x.nodes)).toEqual([[1], [2, 3]]);
    expect(out.components.map((x) => x.quorate)).toEqual([false, true]);
    expect(out.components.map((x) => x.ring.seq)).toEqual([2n, 3n]);
    expect(out.ringSeq).toBe(3n);
    expect(out.components[1]!.views.get('g')).toEqual([b, c]);
    expect(describeEffects(out.effects)).toEqual([
      '1:10 <- confchg [1:10] +[] -[2:20/nodedown,3:30/nodedown]',
      'lingering g',
      '1:10 <- totem 2 [1]',
      'node 1 quorate false',
      '1:10 <- quorum false of 2 [1]',
      '2:20 <- confchg [2:20,3:30] +[] -[1:10/nodedown]',
      '3:30 <- confchg [2:20,3:30] +[] -[1:10/nodedown]',
      'lingering g',
      '2:20 <- totem 3 [2,3]',
      '3:30 <- totem 3 [2,3]',
      // still quorate: a view of the new ring all the same, as votequorum sends one per ring
      '2:20 <- quorum true of 3 [2,3]',
      '3:30 <- quorum true of 3 [2,3]',
    ]);
  });

  it('merges components: each side sees the others join with nodeup', () => {
    const n = nodes(3, { 1: { quorate: false } });
    const a = conn(1, 10);
    const b = conn(2, 20);
    const left = newComponent([1], new Map([['g', [a]]]), 2n, 3, n);
    const right = newComponent([2, 3], new Map([['g', [b]]]), 3n, 3, n);
    const out = reconfigure([left, right], [[1, 2, 3]], new Random(1), world(n, [a, b], 3n));
    expect(out.components.map((x) => x.nodes)).toEqual([[1, 2, 3]]);
    expect(out.components[0]!.views.get('g')).toEqual([a, b]);
    expect(describeEffects(out.effects)).toEqual([
      '1:10 <- confchg [1:10,2:20] +[2:20/nodeup] -[]',
      'lingering g',
      '2:20 <- confchg [1:10,2:20] +[1:10/nodeup] -[]',
      'lingering g',
      '1:10 <- totem 4 [1,2,3]',
      '2:20 <- totem 4 [1,2,3]',
      'node 1 quorate true',
      '1:10 <- quorum true of 4 [1,2,3]',
      '2:20 <- quorum true of 4 [1,2,3]',
    ]);
  });

  it('ends the syncs and changes nothing when the components are the targets already', () => {
    const { n, comp, a, b, c } = threeNodeGroup();
    comp.syncing = true;
    const out = reconfigure([comp], [[1, 2, 3]], new Random(1), world(n, [a, b, c]));
    expect(out.changed).toBe(false);
    expect(out.effects).toEqual([]);
    expect(out.ringSeq).toBe(1n);
    expect(out.components).toHaveLength(1);
    expect(out.components[0]!.syncing).toBe(false);
    expect(comp.syncing).toBe(true); // the input is not changed
  });

  it('delivers a membership change in flight on every side, and a message on every side or its sender’s only, by seed', () => {
    const sideCounts = new Set<number>();
    for (let seed = 1; seed <= 20; seed++) {
      const { n, comp, a, b, c } = threeNodeGroup();
      const d = conn(3, 31);
      d.state = 'joining';
      comp.pending.push({ kind: 'mcast', conn: a, key: 'g', data: new TextEncoder().encode('m') });
      comp.pending.push({ kind: 'join', conn: d, key: 'g' });
      const out = reconfigure([comp], [[1], [2, 3]], new Random(seed), world(n, [a, b, c, d]));
      const lines = describeEffects(out.effects);
      const mcastTo = lines.filter((l) => l.endsWith('<- mcast m')).map((l) => l.split(' ')[0]);
      // the sender always gets it; the other side gets it from all its members or none
      expect(mcastTo[0]).toBe('1:10');
      expect([['1:10'], ['1:10', '2:20', '3:30']]).toContainEqual(mcastTo);
      sideCounts.add(mcastTo.length);
      // the join reaches both sides: every member sees it join (the other side leaves after)
      expect(lines).toContain('3:31 <- confchg [1:10,2:20,3:30,3:31] +[3:31/join] -[]');
      expect(lines).toContain('joined 3:31');
      expect(lines).toContain('1:10 <- confchg [1:10,2:20,3:30,3:31] +[3:31/join] -[]');
      expect(out.components[1]!.views.get('g')).toEqual([b, c, d]);
      // the input component's views and queue are not changed
      expect(comp.views.get('g')).toEqual([a, b, c]);
      expect(comp.pending).toHaveLength(2);
      expect(d.state).toBe('joining');
    }
    expect(sideCounts).toEqual(new Set([1, 3])); // both outcomes happen across seeds
  });

  it('the same seed gives the same effects', () => {
    const run = (seed: number): string[] => {
      const { n, comp, a, b, c } = threeNodeGroup();
      for (const [i, from] of [a, b, c, a, c].entries()) {
        comp.pending.push({ kind: 'mcast', conn: from, key: 'g', data: new Uint8Array([i]) });
      }
      return describeEffects(
        reconfigure([comp], [[1, 3], [2]], new Random(seed), world(n, [a, b, c])).effects,
      );
    };
    expect(run(7)).toEqual(run(7));
  });

  it('a node that crashed and restarted before the change: its old members leave with nodedown', () => {
    const { comp, a, b } = threeNodeGroup();
    const n = nodes(3, { 3: { incarnation: 1 } });
    const out = reconfigure([comp], targetComponents(n.values()), new Random(1), world(n, [a, b]));
    expect(out.components.map((x) => x.nodes)).toEqual([[1, 2, 3]]);
    expect(out.components[0]!.views.get('g')).toEqual([a, b]);
    expect(describeEffects(out.effects).slice(0, 2)).toEqual([
      '1:10 <- confchg [1:10,2:20] +[] -[3:30/nodedown]',
      '2:20 <- confchg [1:10,2:20] +[] -[3:30/nodedown]',
    ]);
  });
});

describe('targetComponents', () => {
  it('groups up nodes by link, sorted, by lowest node', () => {
    const n = nodes(5, {
      1: { link: 2 },
      2: { link: 1 },
      3: { link: 2 },
      4: { up: false },
      5: { link: 1 },
    });
    expect(targetComponents(n.values())).toEqual([
      [1, 3],
      [2, 5],
    ]);
  });
});
