/**
 * Acks that nobody needs are not sent (acknowledgement.ts, `ACK_DEFER_MS`): a replica that
 * applied only its own commands (or, in a `Q` of 5 or more, those of a writer it does not
 * follow closely in the round's member order: acks.ts `acksAtOnce`) holds its ack back and drops it once a strict
 * majority of `Q` other than itself acked as far. Every member must still learn each commit index, from acks only (a writer
 * is never counted for a command it did not say it applied), and a replica of `Q` that is down
 * or slow must cost the others only `ACK_DEFER_MS`, never a commit index that stops moving.
 */
import { describe, it, expect, afterEach } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryCluster } from '@cpgkit/core/testing';
import type { GroupTransport } from '@cpgkit/core';
import type { VirtualClock } from '@cpgkit/core/testing';
import { ReplicatedStateMachine, type OpenOptions } from '../src/index.js';
const ACK_DEFER_MS = 5;
import { Kind } from '../src/wire.js';
import { counter, type Counter, type CounterCmd } from './helpers.js';

type SM = ReplicatedStateMachine<Counter, CounterCmd, number>;

/** `n` replicas whose sent acks are counted (a frame's kind is its byte 3). */
async function openCounted(
  cluster: MemoryCluster,
  nodes: number[],
  options: (n: number) => OpenOptions = () => ({}),
): Promise<{ ms: SM[]; groups: GroupTransport[]; acks: number[] }> {
  const acks = nodes.map(() => 0);
  const ms: SM[] = [];
  const groups: GroupTransport[] = [];
  for (const [i, n] of nodes.entries()) {
    const g = cluster.member(n);
    const send = g.send.bind(g);
    g.send = (data, options) => {
      if (data instanceof Uint8Array && data[3] === Kind.ack) acks[i]!++;
      return send(data, options);
    };
    groups.push(g);
    ms.push(await ReplicatedStateMachine.open(g, counter, { checkInterval: 0, ...options(n) }));
  }
  await runUntil(cluster, () => ms.every((m) => m.status === 'ready'));
  expect(ms.map((m) => m.status)).toEqual(nodes.map(() => 'ready'));
  acks.fill(0);
  return { ms, groups, acks };
}

/**
 * Run the cluster (virtual time moves only with `advance`) and let real disk writes go on,
 * until `until()` holds (or 60 s of real time passed: the machine may be busy).
 */
async function runUntil(cluster: MemoryCluster, until: () => boolean, advance = true) {
  const deadline = performance.now() + 60_000;
  for (;;) {
    await cluster.runUntilIdle(advance ? { advanceTime: true, maxTime: 200 } : {});
    if (until() || performance.now() > deadline) return;
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** Dispatch on `m` and run (no virtual time passes) until it resolved. */
async function write(cluster: MemoryCluster, m: SM): Promise<number> {
  let done = false;
  const p = m.dispatch({ add: 1 }).finally(() => void (done = true));
  await runUntil(cluster, () => done, false);
  expect(done).toBe(true);
  return p;
}

let dir: string | undefined;
afterEach(async () => {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

describe('acks that nobody needs', () => {
  it('a lone writer of a Q of 3 sends no ack per write; every member learns each commit index from the others', async () => {
    const cluster = new MemoryCluster({ nodes: 3, seed: 15 });
    const { ms, acks } = await openCounted(cluster, [1, 2, 3]);
    const [writer] = ms;
    for (let i = 1; i <= 30; i++) {
      expect(await write(cluster, writer!)).toBe(i);
      // without any time passing: every replica counts a majority at once
      expect(ms.map((m) => m.committedIndex)).toEqual(ms.map(() => writer!.index));
    }
    expect(ms.map((m) => m.state.n)).toEqual([30, 30, 30]);
    // the followers ack every write; the writer's acks were all covered by theirs
    expect(acks[0]).toBe(0);
    expect(acks[1]).toBeGreaterThanOrEqual(30);
    expect(acks[2]).toBeGreaterThanOrEqual(30);
    for (const m of ms) await m.close();
  });

  it("a held-back ack that the others' acks covered leaves no timer behind (no wake-up per write)", async () => {
    const cluster = new MemoryCluster({ nodes: 3, seed: 20 });
    const clock = cluster.clock as VirtualClock;
    const { ms, acks } = await openCounted(cluster, [1, 2, 3]);
    const [writer] = ms;
    await cluster.runUntilIdle();
    const idle = clock.pendingTimers;
    for (let i = 1; i <= 5; i++) {
      await write(cluster, writer!);
      // every ack delivered, no virtual time passing: the writer's held-back ack is covered
      await cluster.runUntilIdle();
      expect(ms.map((m) => m.committedIndex)).toEqual(ms.map(() => writer!.index));
      expect(clock.pendingTimers).toBe(idle);
    }
    expect(acks[0]).toBe(0);
    for (const m of ms) await m.close();
  });

  it('a writer acks at once what it applied of the others, so writers on every node wait for nobody', async () => {
    const cluster = new MemoryCluster({ nodes: 3, seed: 16 });
    const { ms, acks } = await openCounted(cluster, [1, 2, 3]);
    for (let i = 0; i < 30; i++) await write(cluster, ms[i % 3]!);
    expect(ms.map((m) => m.state.n)).toEqual([30, 30, 30]);
    expect(ms.map((m) => m.committedIndex)).toEqual(ms.map((m) => m.index));
    // each replica acked the others' writes (20 of 30), and no virtual time passed
    for (const n of acks) expect(n).toBeGreaterThanOrEqual(20);
    for (const m of ms) await m.close();
  });

  it('with a follower stopped, the writer acks after ACK_DEFER_MS: the other follower still learns the commit index', async () => {
    const cluster = new MemoryCluster({ nodes: 3, seed: 17 });
    const { ms, groups, acks } = await openCounted(cluster, [1, 2, 3]);
    const [writer, follower] = ms;
    cluster.pause(groups[2]!);
    for (let i = 1; i <= 5; i++) {
      // resolves without time passing: the writer and follower 2 are a majority
      await write(cluster, writer!);
      // follower 2 has only its own ack: it needs the writer's, which waits ACK_DEFER_MS
      expect(follower!.committedIndex).toBeLessThan(writer!.index);
      await cluster.runUntilIdle({ advanceTime: true, maxTime: ACK_DEFER_MS });
      expect(follower!.committedIndex).toBe(writer!.index);
    }
    expect(acks[0]).toBe(5);
    cluster.resume(groups[2]!);
    await cluster.runUntilIdle({ advanceTime: true, maxTime: 1000 });
    expect(ms.map((m) => m.committedIndex)).toEqual(ms.map(() => writer!.index));
    for (const m of ms) await m.close();
  });

  it('in a Q of 2 the writer acks every write at once (the other replica needs it for a majority)', async () => {
    const cluster = new MemoryCluster({ nodes: 2, seed: 18 });
    const { ms, acks } = await openCounted(cluster, [1, 2]);
    for (let i = 1; i <= 10; i++) {
      await write(cluster, ms[0]!);
      expect(ms[1]!.committedIndex).toBe(ms[0]!.index);
    }
    expect(acks[0]).toBeGreaterThanOrEqual(10);
    for (const m of ms) await m.close();
  });

  it('a lone writer of a Q of 5: only the three replicas that follow it in node order ack; every member learns each commit index', async () => {
    const cluster = new MemoryCluster({ nodes: 5, seed: 21 });
    const { ms, acks } = await openCounted(cluster, [1, 2, 3, 4, 5]);
    expect(ms[0]!.replicas.length).toBe(5);
    // the writer on node 4; the three after it in node order, around the end: 5, 1, 2
    const writer = ms[3]!;
    const acking = [4, 0, 1].map((i) => ms[i]!.replicaId);
    for (let i = 1; i <= 30; i++) {
      expect(await write(cluster, writer)).toBe(i);
      // without any time passing: their acks alone are a majority of Q, counted everywhere
      expect(ms.map((m) => m.committedIndex)).toEqual(ms.map(() => writer.index));
    }
    expect(ms.map((m) => m.state.n)).toEqual(ms.map(() => 30));
    for (const [i, m] of ms.entries()) {
      if (acking.includes(m.replicaId)) expect(acks[i]).toBeGreaterThanOrEqual(30);
      // the writer's and the fifth replica's acks were covered by theirs every time
      else expect(acks[i]).toBe(0);
    }
    for (const m of ms) await m.close();
  });

  it('writers on every node of a Q of 5: three acks per write, not four', async () => {
    const cluster = new MemoryCluster({ nodes: 5, seed: 22 });
    const { ms, acks } = await openCounted(cluster, [1, 2, 3, 4, 5]);
    for (let i = 0; i < 40; i++) await write(cluster, ms[i % 5]!);
    await cluster.runUntilIdle();
    expect(ms.map((m) => m.state.n)).toEqual(ms.map(() => 40));
    expect(ms.map((m) => m.committedIndex)).toEqual(ms.map((m) => m.index));
    // each replica follows each of the other writers closely in 3 cases of 4 (8 writes each)
    expect(acks.reduce((a, b) => a + b, 0)).toBe(3 * 40);
    for (const n of acks) expect(n).toBe(3 * 8);
    for (const m of ms) await m.close();
  });

  it('in a Q of 5 with an acking replica stopped, the one that held back acks after ACK_DEFER_MS: all learn each commit index', async () => {
    const cluster = new MemoryCluster({ nodes: 5, seed: 23 });
    const { ms, groups } = await openCounted(cluster, [1, 2, 3, 4, 5]);
    // the writer on node 1: nodes 2, 3, 4 ack its writes at once, node 5 holds its acks back
    const writer = ms[0]!;
    const [stopped, acking, holding] = [1, 2, 4];
    cluster.pause(groups[stopped]!);
    for (let i = 1; i <= 5; i++) {
      // resolves without time passing: the writer and the other two acking replicas
      await write(cluster, writer);
      // the acking replica has its own ack and the other one's: it needs one more
      expect(ms[acking]!.committedIndex).toBeLessThan(writer.index);
      expect(ms[holding]!.committedIndex).toBe(writer.index);
      await cluster.runUntilIdle({ advanceTime: true, maxTime: ACK_DEFER_MS });
      for (const [j, m] of ms.entries())
        if (j !== stopped) expect(m.committedIndex).toBe(writer.index);
    }
    cluster.resume(groups[stopped]!);
    await cluster.runUntilIdle({ advanceTime: true, maxTime: 1000 });
    expect(ms.map((m) => m.committedIndex)).toEqual(ms.map(() => writer.index));
    for (const m of ms) await m.close();
  });

  it("'fsync': the writer's ack (what its disk holds) is dropped once the others' acks say their disks hold as far", async () => {
    dir = await mkdtemp(join(tmpdir(), 'cpgkit-ack-deferral-'));
    const cluster = new MemoryCluster({ nodes: 3, seed: 19 });
    const { ms, acks } = await openCounted(cluster, [1, 2, 3], (n) => ({
      dataDir: join(dir!, `d${n}`),
      durability: 'fsync',
    }));
    const [writer] = ms;
    // every disk holds the round's entries first: with slow disks (CPGKIT_SLOW_DISKS) a
    // write of them could still be on its way after the first writes, and its disk ack,
    // which reports entries that are not our commands, is sent (not held back)
    await Promise.all(ms.map((m) => m.flush()));
    await runUntil(cluster, () => true, false);
    for (let i = 1; i <= 22; i++) {
      // the first writes' disk acks also report the round's entries (not our commands): sent
      if (i === 3) acks.fill(0);
      // resolves with no virtual time passing (no held-back ack is waited for)
      expect(await write(cluster, writer!)).toBe(i);
      // and the followers learn the commit index from each other's acks
      await runUntil(cluster, () => ms.every((m) => m.committedIndex === writer!.index), false);
      expect(ms.map((m) => m.committedIndex)).toEqual(ms.map(() => writer!.index));
    }
    expect(ms.map((m) => m.state.n)).toEqual([22, 22, 22]);
    // the followers ack after each of their disk writes; the writer's acks were all covered
    expect(acks[0]).toBe(0);
    expect(acks[1]).toBeGreaterThanOrEqual(20);
    expect(acks[2]).toBeGreaterThanOrEqual(20);
    for (const m of ms) await m.close();
  });
});
