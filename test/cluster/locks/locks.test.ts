/**
 * @cpgkit/locks on three real corosync nodes: members run in agents inside each node's
 * network namespace (RemoteGroup); the state machine and the Locks client run here.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ReplicatedStateMachine } from '@cpgkit/statemachine';
import { FencedResource, Locks, LockLostError, locksMachine, type Lock } from '@cpgkit/locks';
import { requireCluster } from '../harness/availability.js';
import { RealCluster } from '../harness/real-cluster.js';
import type { RemoteGroup } from '../harness/remote-group.js';

requireCluster();

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Node {
  readonly node: number;
  readonly group: RemoteGroup;
  readonly locks: Locks;
}

async function start(
  fx: RealCluster,
  name: string,
  nodes: readonly number[] = fx.nodes,
): Promise<Node[]> {
  const def = locksMachine({ name: 'cpgkit.locks.test' });
  const out: Node[] = [];
  for (const n of nodes) {
    const group = await fx.member(n);
    const machine = await ReplicatedStateMachine.open(group, def, {
      groupName: name,
      timeout: 15_000,
    });
    out.push({ node: n, group, locks: new Locks(machine, { closeMachine: true }) });
  }
  await Promise.all(out.map((x) => x.locks.machine.ready({ timeout: 20_000 })));
  return out;
}

function unique(what: string): string {
  return `locks-${what}-${process.pid}-${Math.floor(Math.random() * 1e9).toString(36)}`;
}

describe('locks on the real cluster', () => {
  let fx: RealCluster | undefined;
  let nodes: Node[] = [];
  afterEach(async () => {
    await Promise.allSettled(nodes.map((n) => n.locks.close()));
    nodes = [];
    await fx?.close();
    fx = undefined;
  });

  it('three nodes contend for one lock; a fenced resource sees every token in increasing order', async () => {
    fx = await RealCluster.open();
    nodes = await start(fx, unique('contend'));
    const resource = new FencedResource<number>();
    const tokens: bigint[] = [];
    let inside = 0;
    let maxInside = 0;
    const rounds = 8;
    const t0 = performance.now();
    await Promise.all(
      nodes.map(async ({ locks }) => {
        for (let i = 0; i < rounds; i++) {
          await locks.withLock('counter', async (signal, lock) => {
            inside += 1;
            maxInside = Math.max(maxInside, inside);
            const before = resource.value ?? 0;
            await sleep(2);
            expect(signal.aborted).toBe(false);
            resource.write(lock.token, before + 1);
            tokens.push(lock.token);
            inside -= 1;
          });
        }
      }),
    );
    const ms = performance.now() - t0;
    console.log(
      `real cluster: ${rounds * 3} contended critical sections in ${ms.toFixed(0)} ms (${((rounds * 3 * 1000) / ms).toFixed(0)}/s)`,
    );
    expect(maxInside).toBe(1);
    expect(resource.value).toBe(rounds * 3);
    for (let i = 1; i < tokens.length; i++) expect(tokens[i]! > tokens[i - 1]!).toBe(true);
  });

  it('kill -9 of the holder: the next waiter gets the lock with a higher token', async () => {
    fx = await RealCluster.open();
    nodes = await start(fx, unique('kill'));
    const [a, b] = nodes as [Node, Node, Node];
    const held = await a.locks.acquire('m');
    const waiting = b.locks.acquire('m', { timeout: 20_000 });
    await sleep(200);
    const t0 = performance.now();
    await fx.crashProcess(a.group);
    const next = await waiting;
    const ms = performance.now() - t0;
    console.log(`real cluster: lock hand-off after kill -9 of the holder: ${ms.toFixed(0)} ms`);
    expect(next.token).toBeGreaterThan(held.token);
    expect(ms).toBeLessThan(5000);
  });

  it('kill -9 of the leader process, then of the leader node daemon: the next leader within about 3 s', async () => {
    fx = await RealCluster.open();
    // five members (nodes 1, 2, 3, 1, 3): after the first failure, the four left keep a
    // majority of the replica set through the second one
    nodes = await start(fx, unique('leader'), [1, 2, 3, 1, 3]);
    const [a, b, c] = nodes as [Node, Node, Node, Node, Node];
    const la = await a.locks.campaign('chief', { value: 'a' });
    const pb = b.locks.campaign('chief', { value: 'b' });
    await sleep(200);
    let t0 = performance.now();
    await fx.crashProcess(a.group);
    const lb = await pb;
    const procMs = performance.now() - t0;
    expect(lb.term).toBeGreaterThan(la.term);
    const pc = c.locks.campaign('chief', { value: 'c' });
    await sleep(200);
    let seenLeave = 0;
    c.group.on('membership', (e) => {
      if (seenLeave === 0 && e.left.some((m) => m.nodeid === b.node)) seenLeave = performance.now();
    });
    t0 = performance.now();
    await fx.crashNode(b.node);
    const lc = await pc;
    const elected = performance.now();
    const nodeMs = elected - t0;
    console.log(
      `real cluster: leader failover after kill -9 of the leader process: ${procMs.toFixed(0)} ms; ` +
        `after kill -9 of the leader's corosync daemon: ${nodeMs.toFixed(0)} ms ` +
        `(corosync reported nodedown after ${(seenLeave - t0).toFixed(0)} ms, cpgkit elected ${(elected - seenLeave).toFixed(0)} ms later)`,
    );
    expect(elected - seenLeave).toBeLessThan(1000);
    expect(lc.term).toBeGreaterThan(lb.term);
    expect(c.locks.leader('chief').value).toBe('c');
    expect(procMs).toBeLessThan(3000);
    expect(nodeMs).toBeLessThan(6000);
  });

  it('a holder and a leader cut off from the majority stop at once; the majority goes on', async () => {
    fx = await RealCluster.open();
    nodes = await start(fx, unique('cut'));
    const [a, b, c] = nodes as [Node, Node, Node];
    const lock: Lock = await a.locks.acquire('m');
    const lead = await a.locks.campaign('chief', { value: 'a' });
    const nextLock = b.locks.acquire('m', { timeout: 30_000 });
    const nextLead = c.locks.campaign('chief', { value: 'c', timeout: 30_000 });
    await sleep(300);
    const t0 = performance.now();
    let lostAt = 0;
    let seenLeave = 0;
    lock.signal.addEventListener('abort', () => (lostAt = performance.now()), { once: true });
    b.group.on('membership', (e) => {
      if (seenLeave === 0 && e.left.some((m) => m.nodeid === a.node)) seenLeave = performance.now();
    });
    await fx.partition([a.node], [b.node, c.node]);
    await fx.waitFor(
      () => lock.signal.aborted && lead.signal.aborted,
      15_000,
      'the cut-off holder to lose its lock and leadership',
    );
    const got = await nextLock;
    const grantMs = performance.now() - t0;
    const leader = await nextLead;
    console.log(
      `real cluster: partition: the majority saw the holder leave after ${(seenLeave - t0).toFixed(0)} ms; ` +
        `the cut-off holder's signal aborted after ${(lostAt - t0).toFixed(0)} ms; the majority granted after ${grantMs.toFixed(0)} ms ` +
        `(abort ${lostAt <= t0 + grantMs ? 'before' : 'AFTER'} the new grant)`,
    );
    expect(lock.signal.reason).toBeInstanceOf(LockLostError);
    expect(['quorum-lost', 'released']).toContain((lock.signal.reason as LockLostError).reason);
    expect(got.token).toBeGreaterThan(lock.token);
    expect(leader.term).toBeGreaterThan(lead.term);
    // the minority cannot take anything meanwhile
    await expect(
      a.locks.tryAcquire('other', { signal: AbortSignal.timeout(1500) }),
    ).rejects.toThrow();
    await fx.heal();
    await a.locks.machine.ready({ timeout: 30_000 });
    await got.release();
    const again = await a.locks.acquire('m', { timeout: 20_000 });
    expect(again.token).toBeGreaterThan(got.token);
    await again.release();
  });
});
