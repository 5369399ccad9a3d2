/**
 * The embedded cluster on the main entry: `embeddedCluster()` runs on real time (members join
 * and messages arrive with nobody driving a clock), `virtualTimeCluster()` (testing) does not
 * move by itself, and `corosyncOrEmbedded()` picks the transport it can reach and says which.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  AccessDeniedError,
  CorosyncNotRunningError,
  corosyncOrEmbedded,
  embeddedCluster,
  Group,
  LibraryNotFoundError,
  realClock,
  type GroupEvent,
  type MemoryCluster,
  type Transport,
} from '../src/index.js';
import { virtualTimeCluster } from '../src/testing.js';

const text = (s: string) => new TextEncoder().encode(s);

/** The next message `group` receives (its events, from now on). */
async function nextMessage(group: Group): Promise<string> {
  for await (const e of group.events() as AsyncIterable<GroupEvent>) {
    if (e.type === 'message') return new TextDecoder().decode(e.data);
  }
  throw new Error('the group closed');
}

/** A transport whose connect rejects with `error`, as corosync() does when unreachable. */
function unreachable(error: Error): Transport {
  return {
    kind: 'corosync',
    clock: realClock,
    connect: () => Promise.reject(error),
  };
}

describe('embeddedCluster', () => {
  let cluster: MemoryCluster | undefined;
  afterEach(() => cluster?.destroy());

  it('runs on real time: members join and a message reaches all three nodes undriven', async () => {
    cluster = embeddedCluster({ nodes: 3 });
    const t0 = cluster.clock.now();
    const members = [1, 2, 3].map((n) => cluster!.transport(n));
    await Promise.all(members.map((m) => m.join('orders', { timeout: 10_000 })));
    const received = members.map(nextMessage);
    await members[0]!.send(text('hello'));
    expect(await Promise.all(received)).toEqual(['hello', 'hello', 'hello']);
    // its clock is the wall clock: a real 50 ms sleep moves it by about that much
    const before = cluster.clock.now();
    await new Promise((r) => setTimeout(r, 50));
    expect(cluster.clock.now() - before).toBeGreaterThanOrEqual(45);
    expect(cluster.clock.now()).toBeGreaterThan(t0);
    await Promise.all(members.map((m) => m.close()));
  });

  it('virtualTimeCluster, the testing default, stands still until advanced', async () => {
    cluster = virtualTimeCluster({ nodes: 3 });
    const before = cluster.clock.now();
    await new Promise((r) => setTimeout(r, 50));
    expect(cluster.clock.now()).toBe(before);
    await cluster.advance(200);
    expect(cluster.clock.now()).toBe(before + 200);
  });
});

describe('corosyncOrEmbedded', () => {
  const lines: string[] = [];
  const log = (line: string) => lines.push(line);
  afterEach(() => {
    lines.length = 0;
  });

  it('falls back to an embedded cluster when corosync is not running, and says so', async () => {
    const error = new CorosyncNotRunningError();
    const choice = await corosyncOrEmbedded({ transport: unreachable(error), log });
    try {
      expect(choice.kind).toBe('embedded');
      if (choice.kind !== 'embedded') return;
      expect(choice.cause).toBe(error);
      expect(choice.cluster.nodeIds).toEqual([1, 2, 3]);
      expect(lines).toEqual([choice.reason]);
      expect(choice.reason).toMatch(/corosync is not reachable \(CorosyncNotRunningError: /);
      expect(choice.reason).toMatch(/using an EMBEDDED in-process cluster of 3 nodes/);
      expect(choice.reason).toMatch(/production code opens corosync\(\) and never falls back/);
      // its members work on real time
      const a = choice.member(1);
      const b = choice.member(3);
      await Promise.all([a.join('g', { timeout: 10_000 }), b.join('g', { timeout: 10_000 })]);
      const got = nextMessage(b);
      await a.send(text('x'));
      expect(await got).toBe('x');
      await Promise.all([a.close(), b.close()]);
    } finally {
      choice.close();
      choice.close(); // idempotent
    }
  });

  it('falls back when libcpg is not installed (a CorosyncNotRunningError too), with its options', async () => {
    const error = new LibraryNotFoundError('libcpg.so.4: not found; install corosync');
    const choice = await corosyncOrEmbedded({
      transport: unreachable(error),
      embedded: { nodes: 5 },
      log,
    });
    choice.close();
    expect(choice.kind).toBe('embedded');
    expect(choice.reason).toMatch(/LibraryNotFoundError: libcpg\.so\.4: not found/);
    expect(choice.reason).toMatch(/cluster of 5 nodes/);
  });

  it('uses the transport when it is reachable, and says so', async () => {
    const engine = embeddedCluster({ nodes: 1 }); // stands in for a reachable corosync
    try {
      const reachable = engine.node(1);
      const choice = await corosyncOrEmbedded({ transport: reachable, log });
      expect(choice.kind).toBe('corosync');
      expect(lines).toEqual([choice.reason]);
      expect(choice.reason).toBe('cpgkit: using corosync (memory transport reachable)');
      const member = choice.member();
      expect(member).toBeInstanceOf(Group);
      await member.join('g', { timeout: 10_000 });
      expect(member.self.nodeid).toBe(1);
      await member.close();
      choice.close();
    } finally {
      engine.destroy();
    }
  });

  it('never falls back on another error: corosync that refuses us is an error', async () => {
    const error = new AccessDeniedError();
    await expect(corosyncOrEmbedded({ transport: unreachable(error), log })).rejects.toBe(error);
    expect(lines).toEqual([]);
  });
});
