import { describe, it, expect } from 'vitest';
import { MemoryCluster, VirtualClock } from '../src/testing.js';
import type { DriverSink, GroupDriver } from '../src/driver.js';
import type { Group } from '../src/group.js';
import type { GroupEvent, MemberChange, MemberId } from '../src/types.js';

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A raw driver-level client of the cluster: what a C libcpg client would see. */
async function rawClient(
  cluster: MemoryCluster,
  node: number,
  dispatch: 'auto' | 'manual' = 'auto',
) {
  const log: string[] = [];
  let writable = 0;
  const lost: Error[] = [];
  const fmt = (l: readonly MemberChange[]): string =>
    l.map((m) => `${m.nodeid}/${m.reason}`).join(',');
  const sink: DriverSink = {
    message: (s, d) => log.push(`m ${s.nodeid} ${dec.decode(d)}`),
    membership: (members, joined, left) =>
      log.push(`c ${members.map((m) => m.nodeid).join(',')} +${fmt(joined)} -${fmt(left)}`),
    totem: (_r, nodes) => log.push(`t ${nodes.join(',')}`),
    quorum: (q, view) => log.push(`q ${q} @${view?.ringSeq}`),
    writable: () => writable++,
    lost: (e) => lost.push(e),
  };
  const driver: GroupDriver = await cluster.node(node).connect(sink, { dispatch });
  return { driver, log, lost, writable: () => writable };
}

function record(g: Group): string[] {
  const out: string[] = [];
  const push = (e: GroupEvent): void => {
    if (e.type === 'message') out.push(`${e.sender.nodeid}:${e.sender.pid} ${dec.decode(e.data)}`);
    else if (e.type === 'membership') {
      const ids = (l: readonly MemberId[]): string =>
        l.map((m) => `${m.nodeid}:${m.pid}`).join(',');
      out.push(
        `c [${ids(e.members)}] +${e.joined.map((j) => j.reason).join()} -${e.left.map((j) => j.reason).join()}`,
      );
    } else if (e.type === 'totem') out.push(`t ${e.nodes.join(',')}`);
    else out.push(`q ${e.quorate}`);
  };
  for (const t of ['message', 'membership', 'totem', 'quorum'] as const) g.on(t, push);
  return out;
}

/** A seeded workload with faults, returning the cluster's trace hash. */
async function workload(seed: number): Promise<string> {
  const cluster = new MemoryCluster({ nodes: 5, seed, trace: true });
  const members = [1, 2, 3, 4, 5, 1, 3].map((n) => cluster.transport(n));
  await Promise.all(members.map((m) => m.join('det')));
  for (let wave = 0; wave < 5; wave++) {
    members.forEach((m, i) => {
      if (m.joined)
        for (let k = 0; k < 10; k++) void m.send(enc.encode(`${i}.${wave}.${k}`)).catch(() => {});
    });
    if (wave === 1) cluster.partition([1, 2], [3, 4, 5]);
    if (wave === 2) cluster.crashProcess(members[6]!);
    if (wave === 3) cluster.heal();
    if (wave === 4) cluster.crashNode(4);
    await cluster.runUntilIdle();
  }
  const hash = cluster.traceHash();
  cluster.destroy();
  return hash;
}

describe('MemoryCluster', () => {
  it('is deterministic: the same seed and calls give the same trace hash', async () => {
    const a = await workload(11);
    const b = await workload(11);
    const c = await workload(12);
    expect(a).toMatch(/^[0-9a-f]{64}$/);
    expect(b).toBe(a);
    expect(c).not.toBe(a);
  });

  it('gives each process a distinct pid and refuses a second join in one process', async () => {
    const cluster = new MemoryCluster({ nodes: 2 });
    const t = cluster.node(1);
    const u = cluster.node(1);
    expect(t.pid).not.toBe(u.pid);
    const sink = (await rawClient(cluster, 1)).driver;
    void sink;
    const c1 = await t.connect(nullSink());
    const c2 = await t.connect(nullSink());
    c1.join(enc.encode('g'));
    expect(() => c2.join(enc.encode('g'))).toThrow(
      expect.objectContaining({ name: 'AlreadyJoinedError' }),
    );
    // Another group from the same process is fine.
    c2.join(enc.encode('h'));
    // Group names are bytes: 'g' and 'g\0' are different groups.
    const c3 = await t.connect(nullSink());
    c3.join(new Uint8Array([0x67, 0]));
    await cluster.runUntilIdle();
    expect(c1.groups().map((g) => [...g.group])).toEqual([[0x67], [0x67, 0], [0x68]]);
    expect(c1.maxMessageSize).toBe(1_047_552);
  });

  it('drops sends before join and after leave, like corosync (CS_OK, nothing delivered)', async () => {
    const cluster = new MemoryCluster({ nodes: 2 });
    const a = await rawClient(cluster, 1);
    const b = await rawClient(cluster, 2);
    expect(a.driver.mcast([enc.encode('early')])).toBe(true);
    b.driver.join(enc.encode('g'));
    await cluster.runUntilIdle();
    a.driver.join(enc.encode('g'));
    expect(a.driver.mcast([enc.encode('x'), enc.encode('y')])).toBe(true); // parts concatenate
    await cluster.runUntilIdle();
    a.driver.leave();
    expect(a.driver.mcast([enc.encode('late')])).toBe(true);
    await cluster.runUntilIdle();
    expect(b.log.filter((l) => l.startsWith('m'))).toEqual(['m 1 xy']);
    // corosync 3.1.7: the same handle cannot rejoin; a handle that left still hears the group.
    expect(() => a.driver.join(enc.encode('g'))).toThrow(
      expect.objectContaining({ name: 'AlreadyJoinedError' }),
    );
    b.driver.mcast([enc.encode('to-all')]);
    await cluster.runUntilIdle();
    expect(a.log.at(-1)).toBe('m 2 to-all');
  });

  it('delivers a node crash as nodedown, then totem; restart brings the totem back', async () => {
    const cluster = new MemoryCluster({ nodes: 3 });
    const a = await rawClient(cluster, 1);
    const c = await rawClient(cluster, 3);
    a.driver.join(enc.encode('g'));
    c.driver.join(enc.encode('g'));
    await cluster.runUntilIdle();
    a.log.length = 0;
    cluster.crashNode(3);
    await cluster.runUntilIdle();
    // node 1 stays quorate; its quorum view of the new ring comes all the same
    expect(a.log).toEqual(['c 1 + -3/nodedown', 't 1,2', 'q true @2']);
    expect(c.lost.map((e) => e.name)).toEqual(['ConnectionLostError']);
    await expect(cluster.node(3).connect(nullSink())).rejects.toMatchObject({
      name: 'CorosyncNotRunningError',
    });
    cluster.crashNode(2);
    await cluster.runUntilIdle();
    expect(a.log.slice(3)).toEqual(['t 1', 'q false @3']);
    cluster.restartNode(2);
    cluster.restartNode(3);
    await cluster.runUntilIdle();
    expect(a.log.slice(5)).toEqual(['t 1,2,3', 'q true @4']);
  });

  it('quorumDelay: quorum events come that many virtual ms after the change, behind later messages', async () => {
    const cluster = new MemoryCluster({ nodes: 3, quorumDelay: 50 });
    const a = await rawClient(cluster, 1);
    const b = await rawClient(cluster, 2);
    a.driver.join(enc.encode('g'));
    b.driver.join(enc.encode('g'));
    await cluster.runUntilIdle({ advanceTime: true, maxTime: 100 });
    a.log.length = 0;
    cluster.partition([1], [2, 3]);
    await cluster.runUntilIdle();
    a.driver.mcast([enc.encode('alone')]);
    await cluster.runUntilIdle();
    // the confchg, the totem event and our message; no quorum event yet
    expect(a.log).toEqual(['c 1 + -2/nodedown', 't 1', 'm 1 alone']);
    await cluster.advance(49);
    expect(a.log).toHaveLength(3);
    await cluster.advance(1);
    expect(a.log.at(-1)).toBe('q false @2');
    cluster.heal();
    await cluster.runUntilIdle();
    expect(a.log.slice(4)).toEqual(['c 1,2 +2/nodeup -', 't 1,2,3']);
    await cluster.advance(50);
    expect(a.log.at(-1)).toBe('q true @4');
  });

  it('crashNode then restartNode before the engine ran: the node’s members leave with nodedown, the node comes back empty and quorate', async () => {
    const cluster = new MemoryCluster({ nodes: 3, seed: 1 });
    const a = await rawClient(cluster, 1);
    const b = await rawClient(cluster, 2);
    const c = await rawClient(cluster, 3);
    for (const x of [a, b, c]) x.driver.join(enc.encode('g'));
    await cluster.runUntilIdle();
    a.log.length = 0;
    cluster.crashNode(3);
    cluster.restartNode(3); // before any reconfiguration ran
    const d = await rawClient(cluster, 3); // a new process on the restarted daemon joins at once
    d.driver.join(enc.encode('g'));
    await cluster.runUntilIdle();
    expect(c.lost.map((e) => e.name)).toEqual(['ConnectionLostError']);
    // One configuration change: the old members of node 3 leave with nodedown, the ring keeps
    // node 3 (its new daemon), then the new process joins in the new ring.
    expect(a.log).toEqual(['c 1,2 + -3/nodedown', 't 1,2,3', 'q true @2', 'c 1,2,3 +3/join -']);
    // The new process: the new ring's totem (to every handle), then its join, the initial totem.
    expect(d.log.filter((l) => !l.startsWith('q'))).toEqual([
      't 1,2,3',
      'c 1,2,3 +3/join -',
      't 1,2,3',
    ]);
    expect(d.log.filter((l) => l.startsWith('q')).at(-1)).toBe('q true @2');
    const members = a.driver.members();
    expect(members.map((m) => m.nodeid)).toEqual([1, 2, 3]);
    expect(members.some((m) => m.nodeid === 3 && m.pid === c.driver.local.pid)).toBe(false);
    expect([1, 2, 3].map((n) => cluster.isQuorate(n))).toEqual([true, true, true]);
    expect(d.driver.quorate()).toBe(true);
  });

  it('crashNode then restartNode, through Group: the crashed member is gone for good', async () => {
    const cluster = new MemoryCluster({ nodes: 3, seed: 7 });
    const [a, b, c] = [1, 2, 3].map((n) => cluster.transport(n)) as [Group, Group, Group];
    for (const g of [a, b, c]) await g.join('g');
    await cluster.runUntilIdle();
    cluster.crashNode(3);
    cluster.restartNode(3);
    await cluster.runUntilIdle();
    expect(await c.closed()).toMatchObject({ name: 'ConnectionLostError' });
    expect(a.members()).toEqual([a.self, b.self]);
    expect(b.members()).toEqual([a.self, b.self]);
    const d = cluster.transport(3);
    await d.join('g');
    await cluster.runUntilIdle();
    expect(d.members()).toEqual([a.self, b.self, d.self]);
    expect(a.members()).toEqual([a.self, b.self, d.self]);
    expect(d.quorate).toBe(true);
    expect(cluster.isQuorate(3)).toBe(true);
  });

  it('answers try again during a membership change, then says writable', async () => {
    const cluster = new MemoryCluster({ nodes: 3 });
    const a = await rawClient(cluster, 1);
    a.driver.join(enc.encode('g'));
    await cluster.runUntilIdle();
    cluster.partition([1], [2, 3]);
    expect(a.driver.mcast([enc.encode('during')])).toBe(false);
    expect(cluster.stats.tryAgain).toBe(1);
    await cluster.runUntilIdle();
    expect(a.writable()).toBe(1);
    expect(a.driver.mcast([enc.encode('after')])).toBe(true);
  });

  it('answers try again when a component’s queue is full', async () => {
    const cluster = new MemoryCluster({ nodes: 1, queueLimit: 4 });
    const a = await rawClient(cluster, 1);
    a.driver.join(enc.encode('g'));
    await cluster.runUntilIdle();
    const accepted = [0, 1, 2, 3, 4, 5].map((i) => a.driver.mcast([enc.encode(`${i}`)]));
    expect(accepted).toEqual([true, true, true, true, false, false]);
    await cluster.runUntilIdle();
    expect(a.writable()).toBe(1);
    expect(a.log.filter((l) => l.startsWith('m')).length).toBe(4);
  });

  it('delivers in-flight messages at a partition exactly where virtual synchrony allows', async () => {
    // Over many seeds: a message sent just before a split reaches either everyone of the old
    // configuration or only the sender's side, and the members that stay together agree.
    const outcomes = new Set<string>();
    for (let seed = 0; seed < 40; seed++) {
      const cluster = new MemoryCluster({ nodes: 3, seed });
      const [a, b, c] = [1, 2, 3].map((n) => cluster.transport(n)) as [Group, Group, Group];
      const logs = [a, b, c].map(record);
      for (const g of [a, b, c]) await g.join('vs');
      await cluster.runUntilIdle();
      for (const l of logs) l.length = 0;
      void a.send(enc.encode('m'));
      await Promise.resolve();
      await Promise.resolve();
      cluster.partition([1], [2, 3]);
      await cluster.runUntilIdle();
      const got = logs.map((l) => l.some((x) => x.endsWith(' m')));
      expect(got[0]).toBe(true); // the sender's side always has it
      expect(got[1]).toBe(got[2]); // b and c pass together: same messages
      // And it comes before the view change wherever it is delivered.
      for (const l of logs) {
        const mi = l.findIndex((x) => x.endsWith(' m'));
        const ci = l.findIndex((x) => x.startsWith('c '));
        if (mi >= 0) expect(mi).toBeLessThan(ci);
      }
      outcomes.add(got.join());
      cluster.destroy();
    }
    expect(outcomes).toEqual(new Set(['true,true,true', 'true,false,false']));
  });

  it('queues a paused process’s events and delivers them on resume', async () => {
    const cluster = new MemoryCluster({ nodes: 2 });
    const a = cluster.transport(1);
    const b = cluster.transport(2);
    const logB = record(b);
    await a.join('p');
    await b.join('p');
    cluster.pause(b);
    await a.send(enc.encode('one'));
    await a.send(enc.encode('two'));
    await cluster.runUntilIdle();
    const before = logB.length;
    cluster.resume(b);
    await cluster.runUntilIdle();
    expect(logB.slice(before).map((l) => l.split(' ')[1])).toEqual(['one', 'two']);
  });

  it('kills a process: procdown for the others, ConnectionLostError for it', async () => {
    const cluster = new MemoryCluster({ nodes: 2 });
    const a = cluster.transport(1);
    const b = cluster.transport(2);
    const logA = record(a);
    await a.join('k');
    await b.join('k');
    void b.send(enc.encode('last words'));
    await Promise.resolve();
    cluster.crashProcess(b);
    await cluster.runUntilIdle();
    expect(logA.slice(-2).map((l) => l.replace(/\d+:\d+ /, ''))).toEqual([
      'last words',
      `c [1:${a.self.pid}] + -procdown`,
    ]);
    expect(await b.closed()).toMatchObject({ name: 'ConnectionLostError' });
  });

  it('keeps quorum per component, with expectedVotes', async () => {
    const cluster = new MemoryCluster({ nodes: 5, expectedVotes: 5 });
    cluster.partition([1, 2], [3, 4, 5]);
    await cluster.runUntilIdle();
    expect(cluster.components()).toEqual([
      [1, 2],
      [3, 4, 5],
    ]);
    expect([1, 2, 3, 4, 5].map((n) => cluster.isQuorate(n))).toEqual([
      false,
      false,
      true,
      true,
      true,
    ]);
    cluster.partition([1], [2], [3, 4], [5]);
    await cluster.runUntilIdle();
    expect([1, 2, 3, 4, 5].some((n) => cluster.isQuorate(n))).toBe(false);
    cluster.heal();
    await cluster.runUntilIdle();
    expect(cluster.isQuorate(1)).toBe(true);
  });

  it('has a virtual clock that moves only when told', async () => {
    const cluster = new MemoryCluster();
    const fired: number[] = [];
    cluster.clock.setTimeout(() => fired.push(cluster.clock.now()), 100);
    const t = cluster.clock.setTimeout(() => fired.push(-1), 50);
    t.cancel();
    await cluster.runUntilIdle();
    expect(fired).toEqual([]);
    await cluster.runUntilIdle({ advanceTime: true });
    expect(fired).toEqual([100]);
    await cluster.advance(1000);
    expect(cluster.clock.now()).toBe(1100);
    const v = new VirtualClock();
    const order: string[] = [];
    v.setTimeout(() => order.push('b'), 20);
    v.setTimeout(() => order.push('a'), 10);
    v.setTimeout(() => order.push('c'), 20);
    v.advance(20);
    expect(order).toEqual(['a', 'b', 'c']);
    expect(v.wallNow()).toBe(Date.UTC(2026, 0, 1) + 20);
  });

  it('holdEngine: nothing is delivered while held, however many turns pass; released, it goes on', async () => {
    const cluster = new MemoryCluster({ nodes: 2 });
    const a = cluster.member(1);
    const b = cluster.member(2);
    const logB = record(b);
    await a.join('h');
    await b.join('h');
    await cluster.runUntilIdle();
    const before = logB.length;
    const release = cluster.holdEngine();
    await a.send(enc.encode('one'));
    for (let i = 0; i < 50; i++) await new Promise((r) => setImmediate(r));
    await new Promise((r) => setTimeout(r, 20)); // real time passes too (a disk read)
    expect(logB.length).toBe(before);
    expect(cluster.busy).toBe(true);
    expect(cluster.held).toBe(true);
    release();
    release(); // a second call does nothing
    expect(cluster.held).toBe(false);
    await cluster.runUntilIdle();
    expect(logB.slice(before).map((l) => l.split(' ')[1])).toEqual(['one']);
  });

  it('clock.hold: runUntilIdle fires no timer and takes no step until released (real I/O takes no virtual time)', async () => {
    const cluster = new MemoryCluster({ nodes: 1 });
    const fired: number[] = [];
    cluster.clock.setTimeout(() => fired.push(cluster.clock.now()), 10);
    const release = cluster.clock.hold!();
    let idle = false;
    const running = cluster.runUntilIdle({ advanceTime: true }).then(() => (idle = true));
    await new Promise((r) => setTimeout(r, 20)); // a disk write
    expect({ idle, fired, now: cluster.clock.now() }).toEqual({ idle: false, fired: [], now: 0 });
    expect(cluster.held).toBe(true);
    release();
    expect(cluster.held).toBe(false);
    await running;
    expect(fired).toEqual([10]);
    cluster.destroy();
  });

  it('runUntilIdle rejects, naming the leak, when a hold outlasts heldLimit of real time (a hang fails clearly)', async () => {
    const cluster = new MemoryCluster({ nodes: 1 });
    const release = cluster.clock.hold!();
    const t0 = performance.now();
    await expect(cluster.runUntilIdle({ heldLimit: 50 })).rejects.toThrow(
      /held for 50 ms of real time: a hold .* was never released/,
    );
    expect(performance.now() - t0).toBeGreaterThanOrEqual(50);
    // a hold released within the limit is real I/O, not a leak
    setTimeout(release, 20);
    await cluster.runUntilIdle({ heldLimit: 5_000 });
    expect(cluster.held).toBe(false);
    cluster.destroy();
  });

  it('clock.hold: what the releases carry runs once all are released, in the order the holds were taken', async () => {
    const cluster = new MemoryCluster({ nodes: 1 });
    const clock = cluster.clock;
    const order: string[] = [];
    const first = clock.hold!();
    const second = clock.hold!();
    second(() => order.push('second')); // its I/O ended first
    expect(order).toEqual([]);
    first(() => order.push('first'));
    expect(order).toEqual(['first', 'second']);
    await cluster.runUntilIdle(); // released: nothing holds it
    cluster.destroy();
  });

  it('sliceNow: virtual time on the virtual clock, performance.now() with sliceTime real', async () => {
    const cluster = new MemoryCluster();
    await cluster.advance(250);
    expect(cluster.clock.sliceNow?.()).toBe(250);
    const real = new MemoryCluster({ sliceTime: 'real' });
    const t = performance.now();
    expect(real.clock.sliceNow?.()).toBeGreaterThanOrEqual(t);
    expect(real.clock.now()).toBe(0);
    cluster.destroy();
    real.destroy();
  });

  it('runs in real time for demos', async () => {
    const cluster = new MemoryCluster({ realTime: true });
    const a = cluster.transport(1);
    const logA = record(a);
    await a.join('rt');
    await a.send(enc.encode('tick'));
    await cluster.runUntilIdle();
    expect(logA.some((l) => l.endsWith(' tick'))).toBe(true);
    await a.close();
    cluster.destroy();
  });
});

function nullSink(): DriverSink {
  return {
    message: () => {},
    membership: () => {},
    totem: () => {},
    quorum: () => {},
    writable: () => {},
    lost: () => {},
  };
}

describe('README example', () => {
  it('survives a partition', async () => {
    const cluster = new MemoryCluster({ nodes: 3, seed: 42 });
    const a = cluster.transport(1);
    const b = cluster.transport(2);
    await a.join('counter');
    await b.join('counter');
    cluster.partition([1], [2, 3]);
    await cluster.runUntilIdle();
    expect(a.quorate).toBe(false);
    expect(b.members()).toEqual([b.self]);
    cluster.heal();
    await cluster.runUntilIdle();
    expect(a.members()).toHaveLength(2);
    cluster.destroy();
  });
});
