import { describe, it, expect } from 'vitest';
import { Group, openGroup } from '../src/group.js';
import { MemoryCluster } from '../src/testing.js';
import type { DriverSink, GroupDriver, Transport } from '../src/driver.js';
import type { GroupEvent } from '../src/types.js';
import { realClock } from '../src/clock.js';
import { TryAgainError } from '../src/errors.js';

const enc = new TextEncoder();
const dec = new TextDecoder();

/**
 * A transport over a cluster node whose drivers have one method, `method`, replaced by
 * `wrap(original)`; every other property is the driver's own.
 */
function wrapDriver<K extends keyof GroupDriver>(
  cluster: MemoryCluster,
  node: number,
  method: K,
  wrap: (original: GroupDriver[K]) => GroupDriver[K],
): Transport {
  const inner = cluster.processTransport(node);
  return {
    kind: inner.kind,
    clock: inner.clock,
    async connect(sink, options) {
      const d = await inner.connect(sink, options);
      const replaced = wrap((d[method] as (...a: never[]) => unknown).bind(d) as GroupDriver[K]);
      return new Proxy(d, {
        get(target, prop, receiver) {
          if (prop === method) return replaced;
          const v = Reflect.get(target, prop, receiver) as unknown;
          return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
        },
      });
    },
  };
}

/** A transport over a cluster node that counts the CPG messages (mcast calls) it accepts. */
function counting(
  cluster: MemoryCluster,
  node: number,
): { transport: Transport; mcasts: () => number } {
  let n = 0;
  const transport = wrapDriver(cluster, node, 'mcast', (mcast) => (parts) => {
    const ok = mcast(parts);
    if (ok) n++;
    return ok;
  });
  return { transport, mcasts: () => n };
}

function texts(events: GroupEvent[]): string[] {
  return events.flatMap((e) => (e.type === 'message' ? [dec.decode(e.data)] : []));
}

/** A transport over a cluster node whose `join` answers try again `busyJoins` times first. */
function busyJoin(
  cluster: MemoryCluster,
  node: number,
  busyJoins: number,
): { transport: Transport; attempts: () => number } {
  let n = 0;
  const transport = wrapDriver(cluster, node, 'join', (join) => (name) => {
    if (n++ < busyJoins) throw new TryAgainError('cpg_join: try again (test)');
    join(name);
  });
  return { transport, attempts: () => n };
}

describe('Group', () => {
  it('batches a burst of sends into few CPG messages, delivered as separate messages', async () => {
    const cluster = new MemoryCluster({ nodes: 2 });
    const { transport, mcasts } = counting(cluster, 1);
    const a = new Group(transport);
    const b = cluster.member(2);
    const got: string[] = [];
    b.on('message', (m) => got.push(dec.decode(m.data)));
    await a.join('batch');
    await b.join('batch');
    const before = mcasts();
    const sends: Promise<void>[] = [];
    for (let i = 0; i < 20_000; i++) sends.push(a.send(enc.encode(`m${i}`.padEnd(64, '.'))));
    await Promise.all(sends);
    await cluster.runUntilIdle();
    const used = mcasts() - before;
    expect(got).toHaveLength(20_000);
    expect(got[0]).toBe('m0'.padEnd(64, '.'));
    expect(got[19_999]).toBe('m19999'.padEnd(64, '.'));
    // 20,000 × (64 + 4) bytes fit in two 1 MiB CPG messages.
    expect(used).toBe(2);
    // Sends in one tick share a promise per CPG message.
    expect(new Set(sends).size).toBe(2);
  });

  it('chunks a message larger than the atomic size and rejects one over the limit', async () => {
    const cluster = new MemoryCluster({ nodes: 2 });
    const a = cluster.member(1, { maxMessageSize: 8 * 1024 * 1024 });
    const b = cluster.member(2);
    const got: Uint8Array[] = [];
    b.on('message', (m) => got.push(m.data));
    await a.join('big');
    await b.join('big');
    const big = new Uint8Array(5 * 1024 * 1024).map((_, i) => (i * 31) & 0xff);
    await a.send(big);
    await cluster.runUntilIdle();
    expect(got).toHaveLength(1);
    expect(Buffer.from(got[0]!).equals(Buffer.from(big))).toBe(true);
    await expect(a.send(new Uint8Array(8 * 1024 * 1024 + 1))).rejects.toMatchObject({
      name: 'MessageTooLargeError',
    });
  });

  it('queues under try again, rejects with QueueFullError when full, and drains on writable', async () => {
    const cluster = new MemoryCluster({ nodes: 2 });
    const a = cluster.member(1, { maxQueueMessages: 3 });
    const b = cluster.member(2);
    const got: string[] = [];
    b.on('message', (m) => got.push(dec.decode(m.data)));
    await a.join('bp');
    await b.join('bp');
    cluster.partition([1, 2], []); // a membership change: IPC paused (try again) until it ends
    cluster.heal();
    const p1 = a.send(enc.encode('1'));
    const p2 = a.send([enc.encode('2'), enc.encode('3')]);
    await expect(a.send(enc.encode('4'))).rejects.toMatchObject({
      name: 'QueueFullError',
      retryable: true,
    });
    await Promise.all([p1, p2]);
    await cluster.runUntilIdle();
    expect(got).toEqual(['1', '2', '3']);
  });

  it('withdraws a still-queued send when its signal aborts', async () => {
    const cluster = new MemoryCluster({ nodes: 2 });
    const a = cluster.member(1);
    const b = cluster.member(2);
    const got: string[] = [];
    b.on('message', (m) => got.push(dec.decode(m.data)));
    await a.join('sig');
    await b.join('sig');
    cluster.crashNode(2); // try again until the change is done
    const ac = new AbortController();
    const withdrawn = a.send(enc.encode('never'), { signal: ac.signal });
    await Promise.resolve();
    await Promise.resolve();
    ac.abort(new Error('changed my mind'));
    await expect(withdrawn).rejects.toThrow('changed my mind');
    const c = cluster.member(1);
    await c.join('sig');
    const seen: string[] = [];
    c.on('message', (m) => seen.push(dec.decode(m.data)));
    await a.send(enc.encode('kept'));
    await cluster.runUntilIdle();
    expect(seen).toEqual(['kept']);
  });

  it('rejects queued sends with GroupClosedError on close and NotJoinedError on leave', async () => {
    const cluster = new MemoryCluster({ nodes: 2 });
    const a = cluster.member(1);
    await a.join('q');
    cluster.partition([1], [2]); // try again until the change is done
    const queued = a.send(enc.encode('x')).catch((e: unknown) => e);
    await Promise.resolve();
    expect(a.queued.messages).toBe(1);
    await a.close();
    expect(await queued).toMatchObject({ name: 'GroupClosedError' });
    await a.close(); // idempotent
    expect(await a.closed()).toBeUndefined();
    await expect(a.send(enc.encode('z'))).rejects.toMatchObject({ name: 'GroupClosedError' });

    const b = cluster.member(1);
    await b.join('q');
    cluster.heal();
    const queued2 = b.send(enc.encode('y')).catch((e: unknown) => e);
    await Promise.resolve();
    await b.leave();
    expect(await queued2).toMatchObject({ name: 'NotJoinedError' });
    await expect(b.send(enc.encode('y'))).rejects.toMatchObject({ name: 'NotJoinedError' });
  });

  it("reports the engine's atomic message size and our member id from the first connection on", async () => {
    const cluster = new MemoryCluster({ nodes: 2 });
    const g = new Group(cluster.processTransport(2));
    expect(g.atomicMessageSize).toBeUndefined();
    expect(() => g.self).toThrow(expect.objectContaining({ name: 'NotJoinedError' }));
    await g.groups(); // connects, does not join
    expect(g.atomicMessageSize).toBe(1_047_552); // corosync 3.1.7's cpg_max_atomic_msgsize_get
    expect(g.maxMessageSize).toBe(64 * 1024 * 1024); // the logical limit, not the engine's
    expect(g.self.nodeid).toBe(2);
    const self = g.self;
    await g.join('sizes');
    expect(g.self).toEqual(self);
    await g.close();
    expect(g.atomicMessageSize).toBe(1_047_552); // the last known value stays readable

    const small = new MemoryCluster({ nodes: 1, maxMessageSize: 4096 });
    const h = await openGroup('sizes', { transport: small.processTransport(1) });
    expect(h.atomicMessageSize).toBe(4096);
    await h.close();
  });

  it("join retries try again until the caller's timeout, every 20 ms", async () => {
    const cluster = new MemoryCluster({ nodes: 2 });
    // 150 busy answers = 3 s of retries: longer than the 1 s default window
    const busy = busyJoin(cluster, 1, 150);
    const g = new Group(busy.transport);
    const t0 = cluster.clock.now();
    const joining = g.join('busy', { timeout: 10_000 });
    await cluster.advance(3100);
    await joining;
    expect(busy.attempts()).toBe(151);
    expect(cluster.clock.now() - t0).toBeGreaterThanOrEqual(3000);
    expect(g.joined).toBe(true);
    await g.close();
  });

  it("join gives up at the caller's timeout with TimeoutError (cause: the try again)", async () => {
    const cluster = new MemoryCluster({ nodes: 2 });
    const busy = busyJoin(cluster, 1, Infinity);
    const g = new Group(busy.transport);
    const t0 = cluster.clock.now();
    const joining = g.join('busy', { timeout: 2500 }).catch((e: unknown) => e);
    await cluster.advance(2400);
    expect(g.joined).toBe(false);
    await cluster.advance(200);
    const error = await joining;
    expect(error).toMatchObject({ name: 'TimeoutError', cause: { name: 'TryAgainError' } });
    expect(busy.attempts()).toBeGreaterThan(100); // every 20 ms up to 2.5 s, not 1 s
    expect(cluster.clock.now() - t0).toBeLessThanOrEqual(2600);
    expect(g.joined).toBe(false);
    await g.close();
  });

  it('join retries try again until the signal aborts; with neither timeout nor signal, for ~1 s', async () => {
    const cluster = new MemoryCluster({ nodes: 2 });
    const busy = busyJoin(cluster, 1, Infinity);
    const g = new Group(busy.transport);
    const ctl = new AbortController();
    const joining = g.join('busy', { signal: ctl.signal }).catch((e: unknown) => e);
    await cluster.advance(5000);
    expect(busy.attempts()).toBeGreaterThan(200); // still trying after 5 s
    const reason = new Error('stop');
    ctl.abort(reason);
    expect(await joining).toBe(reason);
    await g.close();

    const busy2 = busyJoin(cluster, 1, Infinity);
    const h = new Group(busy2.transport);
    const joining2 = h.join('busy').catch((e: unknown) => e);
    await cluster.advance(1100);
    expect(await joining2).toMatchObject({ name: 'TryAgainError' });
    expect(busy2.attempts()).toBeGreaterThanOrEqual(50);
    expect(busy2.attempts()).toBeLessThanOrEqual(52);
    await h.close();
  });

  it('the join timeout covers the retries and the wait for our membership event together', async () => {
    const cluster = new MemoryCluster({ nodes: 2 });
    const busy = busyJoin(cluster, 1, 50); // 1 s of try again
    const g = new Group(busy.transport);
    await g.groups(); // connect, so that the process is known
    cluster.pause(g.self); // our membership event will not arrive
    const t0 = cluster.clock.now();
    const joining = g.join('busy', { timeout: 1500 }).catch((e: unknown) => e);
    await cluster.advance(1600);
    expect(await joining).toMatchObject({ name: 'TimeoutError' });
    expect(cluster.clock.now() - t0).toBeLessThanOrEqual(1600);
    await g.close();
  });

  it('validates the name before any engine call', async () => {
    let connects = 0;
    const transport: Transport = {
      kind: 'memory',
      clock: realClock,
      connect: (_sink: DriverSink): Promise<GroupDriver> => {
        connects++;
        return Promise.reject(new Error('should not be called'));
      },
    };
    const g = new Group(transport);
    await expect(g.join('')).rejects.toMatchObject({ name: 'InvalidGroupNameError' });
    await expect(g.join('n'.repeat(129))).rejects.toMatchObject({ name: 'InvalidGroupNameError' });
    await expect(openGroup('n'.repeat(200), { transport })).rejects.toMatchObject({
      name: 'InvalidGroupNameError',
    });
    expect(connects).toBe(0);
    expect(() => g.self).toThrow(expect.objectContaining({ name: 'NotJoinedError' }));
  });

  it('streams events to handlers in order and to iterators from their creation; ends on close', async () => {
    const cluster = new MemoryCluster({ nodes: 2 });
    const a = await openGroup('it', { transport: cluster.processTransport(1) });
    const seen: string[] = [];
    const off = a.on('message', (m) => seen.push(dec.decode(m.data)));
    const it1 = a.events();
    await a.send(enc.encode('one'));
    await cluster.runUntilIdle();
    off();
    await a.send(enc.encode('two'));
    await cluster.runUntilIdle();
    const collected: GroupEvent[] = [];
    const reader = (async () => {
      for await (const e of it1) collected.push(e);
    })();
    await a.close();
    await reader;
    expect(seen).toEqual(['one']);
    expect(texts(collected)).toEqual(['one', 'two']);
    const late = a.events();
    expect(await late.next()).toEqual({ value: undefined, done: true });
  });

  it('closes with the error that closed it when the engine goes away; the stream ends with it', async () => {
    const cluster = new MemoryCluster({ nodes: 2 });
    const a = cluster.member(1);
    await a.join('lost');
    const iter = a[Symbol.asyncIterator]();
    const rest: GroupEvent[] = [];
    const reader = (async () => {
      for await (const e of a.events()) rest.push(e);
      return 'ended normally';
    })().catch((e: unknown) => e);
    cluster.crashNode(1);
    await cluster.runUntilIdle();
    const why = await a.closed();
    expect(why).toMatchObject({ name: 'ConnectionLostError' });
    expect(a.joined).toBe(false);
    // the for-await ends by throwing the same error closed() resolved with
    expect(await reader).toBe(why);
    expect(rest.every((e) => e.type !== 'message')).toBe(true);
    // an iterator read after the end: the buffered events (none here), the error once, then done
    await expect(iter.next()).rejects.toBe(why);
    expect(await iter.next()).toEqual({ value: undefined, done: true });
    // an iterator made after the loss rejects at once too
    await expect(a.events().next()).rejects.toBe(why);
    await a[Symbol.asyncDispose]();
    expect(await a.closed()).toBe(why);
  });

  it('a lost connection ends the stream after the events delivered before it', async () => {
    const cluster = new MemoryCluster({ nodes: 2 });
    const a = cluster.member(1);
    const b = cluster.member(2);
    await a.join('lost2');
    await b.join('lost2');
    await cluster.runUntilIdle();
    const it = a.events();
    await b.send(enc.encode('before'));
    await cluster.runUntilIdle();
    cluster.crashProcess(a);
    await cluster.runUntilIdle();
    const got: GroupEvent[] = [];
    let error: unknown;
    try {
      for await (const e of it) got.push(e);
    } catch (e) {
      error = e;
    }
    expect(texts(got)).toEqual(['before']);
    expect(error).toMatchObject({ name: 'ConnectionLostError' });
    expect(error).toBe(await a.closed());
  });

  it('tracks members, quorum and eviction', async () => {
    const cluster = new MemoryCluster({ nodes: 3 });
    const a = cluster.member(1);
    const b = cluster.member(2);
    await a.join('m');
    await b.join('m');
    await cluster.runUntilIdle();
    expect(a.members()).toEqual([a.self, b.self]);
    expect(a.quorate).toBe(true);
    expect(a.name).toBe('m');
    cluster.partition([1], [2, 3]);
    await cluster.runUntilIdle();
    expect(a.members()).toEqual([a.self]);
    expect(a.quorate).toBe(false);
    expect((await a.groups()).map((g) => [g.group, g.members.length])).toEqual([['m', 1]]);
  });

  it('a leave issued while the join is in flight waits for the join, then leaves', async () => {
    const cluster = new MemoryCluster({ nodes: 3, seed: 5 });
    const a = cluster.member(1);
    const b = cluster.member(2);
    await a.join('m');
    const joining = b.join('m');
    const leaving = b.leave(); // before the join's membership event
    await joining;
    await leaving;
    await cluster.runUntilIdle();
    expect(b.joined).toBe(false);
    expect(a.members()).toEqual([a.self]);
    expect((await a.groups()).map((g) => [g.group, g.members.length])).toEqual([['m', 1]]);
  });

  it('manual mode: after our own leave is dispatched, the handle emits nothing more (no message, membership, totem or quorum)', async () => {
    const cluster = new MemoryCluster({ nodes: 3 });
    const a = cluster.member(1, { dispatch: 'manual' });
    const b = cluster.member(2);
    const events: string[] = [];
    a.on('membership', (e) => events.push(`membership ${e.members.length}`));
    a.on('message', (m) => events.push(`message ${dec.decode(m.data)}`));
    a.on('totem', (e) => events.push(`totem ${e.nodes.join(',')}`));
    a.on('quorum', (e) => events.push(`quorum ${e.quorate}`));
    const drain = (): void => {
      while (a.dispatch(0));
    };
    await a.join('deaf');
    await b.join('deaf');
    await cluster.runUntilIdle();
    drain();
    expect(events.splice(0)).toEqual([
      'membership 1',
      'totem 1,2,3',
      'quorum true',
      'membership 2',
    ]);
    await a.leave();
    await cluster.runUntilIdle();
    drain();
    expect(events.splice(0)).toEqual(['membership 1']); // our own leave, as in auto mode
    expect(a.joined).toBe(false);
    // the group goes on: a message, a join, a node crash (totem), a lost quorum
    await b.send(enc.encode('not for a'));
    const c = cluster.member(3);
    await c.join('deaf');
    await cluster.runUntilIdle();
    cluster.crashNode(3);
    await cluster.runUntilIdle();
    cluster.partition([1], [2]);
    await cluster.runUntilIdle();
    drain();
    expect(events).toEqual([]);
    expect(a.quorate).toBe(true); // as last reported while a member
    // a new join hears the group again
    cluster.heal();
    await cluster.runUntilIdle();
    await a.join('deaf');
    await cluster.runUntilIdle();
    drain();
    expect(events[0]).toBe('membership 2');
    expect(events).toContain('totem 1,2');
    await a.close();
  });

  it('dispatches only when asked in manual mode', async () => {
    const cluster = new MemoryCluster({ nodes: 1 });
    const a = cluster.member(1, { dispatch: 'manual' });
    const events: string[] = [];
    a.on('membership', () => events.push('membership'));
    a.on('message', (m) => events.push(dec.decode(m.data)));
    await a.join('manual');
    await a.send(enc.encode('hi'));
    await cluster.runUntilIdle();
    expect(events).toEqual([]);
    expect(a.dispatch(0)).toBe(true);
    expect(events).toEqual(['membership', 'hi']);
    expect(a.dispatch(0)).toBe(false);
  });
});
