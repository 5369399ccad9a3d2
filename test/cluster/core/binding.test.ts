/**
 * The corosync binding on a real 3-node cluster: the driver's own events and queries, order
 * across nodes, big messages, rejoin, group listing against corosync-cpgtool.
 */
import type { GroupEvent, MembershipEvent, MessageEvent, MemberId } from '@cpgkit/core';
import { afterEach, describe, expect, it } from 'vitest';
import { requireCluster } from '../harness/availability.js';
import { execOnNode } from '../harness/cluster.js';
import { RealCluster } from '../harness/real-cluster.js';
import type { RemoteGroup } from '../harness/remote-group.js';
import type { DriverEvent } from './binding-scenarios.js';

requireCluster();
const enc = new TextEncoder();
const dec = new TextDecoder();
const scenarios = new URL('./binding-scenarios.ts', import.meta.url).href;
const unique = (what: string) => `${what}-${process.pid}-${Date.now().toString(36)}`;
const key = (m: MemberId) => `${m.nodeid}:${m.pid}`;

describe('the corosync driver on a real cluster', () => {
  let fx: RealCluster | undefined;
  afterEach(async () => {
    await fx?.close();
    fx = undefined;
  });

  async function members(n: number[]): Promise<RemoteGroup[]> {
    fx ??= await RealCluster.open();
    const cluster = fx;
    return Promise.all(n.map((node) => cluster.member(node)));
  }

  it('join: our confchg first, then the initial totem event, then the quorum (a view of that ring); queries agree', async () => {
    const [a] = await members([2]);
    const group = unique('driver-join');
    const r = await a!.run<{
      local: MemberId;
      maxMessageSize: number;
      events: DriverEvent[];
      members: MemberId[];
      groups: { group: string; members: MemberId[] }[];
      quorate: boolean | undefined;
    }>(scenarios, 'driverJoin', { group });
    expect(r.local.nodeid).toBe(2);
    expect(r.maxMessageSize).toBeGreaterThan(1_000_000); // ~1 MiB (1,047,552 in 3.1.7)
    const types = r.events.map((e) => e.type);
    expect(types.slice(0, 3)).toEqual(['membership', 'totem', 'quorum']);
    const join = r.events[0] as Extract<DriverEvent, { type: 'membership' }>;
    expect(join.members).toEqual([r.local]);
    expect(join.joined).toEqual([{ ...r.local, reason: 'join' }]);
    const totem = r.events[1] as Extract<DriverEvent, { type: 'totem' }>;
    expect([...totem.nodes].sort()).toEqual([1, 2, 3]);
    expect(Number(totem.ringSeq)).toBeGreaterThan(0);
    // the quorum view announced with the join is of the ring the totem event named
    expect(r.events[2]).toEqual({
      type: 'quorum',
      quorate: true,
      viewRingSeq: totem.ringSeq,
      viewNodes: [1, 2, 3],
    });
    expect(r.quorate).toBe(true);
    // the two parts of one mcast arrive as ONE message: their concatenation
    const msg = r.events.find((e) => e.type === 'message');
    expect(msg).toEqual({ type: 'message', sender: r.local, text: 'hello driver' });
    expect(r.members).toEqual([r.local]);
    expect(r.groups.find((g) => g.group === group)?.members).toEqual([r.local]);
  });

  it("Group: our member id and corosync's atomic message size once connected (before any join)", async () => {
    const [a] = await members([2]);
    const r = await a!.run<{
      atomicBefore: number | null;
      selfBefore: string;
      atomic: number | null;
      maxMessageSize: number;
      self: MemberId;
    }>(scenarios, 'groupSizes', {});
    expect(r.atomicBefore).toBeNull();
    expect(r.selfBefore).toBe('NotJoinedError');
    expect(r.atomic).toBeGreaterThan(1_000_000); // 1,047,552 in 3.1.7
    expect(r.atomic).toBeLessThan(2_000_000);
    expect(r.maxMessageSize).toBe(64 * 1024 * 1024);
    expect(r.self).toEqual({ nodeid: 2, pid: a!.pid });
  });

  it('self-delivery, and one agreed order on every node with concurrent senders', async () => {
    const ms = await members([1, 2, 3]);
    const group = unique('order');
    const got = ms.map(() => [] as string[]);
    ms.forEach((m, i) =>
      m.on('message', (e: MessageEvent) => got[i]!.push(`${key(e.sender)}/${dec.decode(e.data)}`)),
    );
    for (const m of ms) await m.join(group, { timeout: 15_000 });
    await fx!.waitFor(
      () => ms.every((m) => m.members().length === 3),
      15_000,
      'three members everywhere',
    );
    const perSender = 150;
    await Promise.all(
      ms.map(async (m, i) => {
        for (let k = 0; k < perSender; k++) await m.send(enc.encode(`n${i + 1}-${k}`));
      }),
    );
    const total = perSender * ms.length;
    await fx!.waitFor(
      () => got.every((g) => g.length >= total),
      30_000,
      'every message everywhere',
    );
    expect(got[0]!.length).toBe(total);
    expect(got[1]).toEqual(got[0]);
    expect(got[2]).toEqual(got[0]);
    // each sender's own messages come back to it, in its sending order
    ms.forEach((m, i) => {
      const own = got[i]!.filter((s) => s.startsWith(`${key(m.self)}/`)).map(
        (s) => s.split('/')[1],
      );
      expect(own).toEqual(Array.from({ length: perSender }, (_, k) => `n${i + 1}-${k}`));
    });
    // the senders really interleaved (concurrent), so the order was decided by corosync
    const firstSenders = new Set(got[0]!.slice(0, perSender).map((s) => s.split('/')[0]));
    expect(firstSenders.size).toBeGreaterThan(1);
  });

  it('4 MB messages arrive intact on every node (chunked above the atomic size)', async () => {
    const ms = await members([1, 2, 3]);
    const group = unique('big');
    const got = ms.map(() => [] as Uint8Array[]);
    ms.forEach((m, i) => m.on('message', (e: MessageEvent) => got[i]!.push(e.data)));
    for (const m of ms) await m.join(group, { timeout: 15_000 });
    await fx!.waitFor(
      () => ms.every((m) => m.members().length === 3),
      15_000,
      'three members everywhere',
    );
    const big = new Uint8Array(4 * 1024 * 1024);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7 + (i >>> 13)) & 0xff;
    await ms[0]!.send(big);
    await ms[0]!.send(enc.encode('after'));
    await fx!.waitFor(() => got.every((g) => g.length >= 2), 60_000, 'the big message everywhere');
    for (const g of got) {
      expect(g.length).toBe(2);
      expect(g[0]!.length).toBe(big.length);
      expect(Buffer.compare(Buffer.from(g[0]!), Buffer.from(big))).toBe(0);
      expect(dec.decode(g[1])).toBe('after');
    }
  });

  it('the send window: a sender waits for its own deliveries every sendWindowBytes of bodies, and loses nothing', async () => {
    const [a] = await members([1]);
    // 1000-byte bodies, a 4000-byte window: a turn of the event loop after every 4 sends
    const big = await a!.run<{ refusals: number; order: number[] }>(scenarios, 'sendWindow', {
      group: unique('window'),
      window: 4000,
      count: 400,
      size: 1000,
    });
    expect(big.order).toEqual([...Array(400).keys()]);
    expect(big.refusals).toBeGreaterThanOrEqual(99);
    // only bodies count: 1000 x 8 bytes fill two 4000-byte windows (a per-message allowance
    // of 192 bytes would make that 50); corosync's try-again may add a few refusals
    const small = await a!.run<{ refusals: number; order: number[] }>(scenarios, 'sendWindow', {
      group: unique('window'),
      window: 4000,
      count: 1000,
      size: 8,
    });
    expect(small.order).toEqual([...Array(1000).keys()]);
    expect(small.refusals).toBeLessThan(20);
  });

  it('rejoin after leave works (a fresh handle under the hood), and members see both', async () => {
    const [a, b] = await members([1, 2]);
    const group = unique('rejoin');
    const seen: MembershipEvent[] = [];
    b!.on('membership', (e) => seen.push(e));
    await b!.join(group, { timeout: 15_000 });
    await a!.join(group, { timeout: 15_000 });
    await fx!.waitFor(() => b!.members().length === 2, 15_000, 'two members');
    const firstSelf = a!.self;
    await a!.leave();
    await fx!.waitFor(() => b!.members().length === 1, 15_000, 'a to leave');
    await a!.join(group, { timeout: 15_000 });
    await fx!.waitFor(() => b!.members().length === 2, 15_000, 'a to rejoin');
    const echoed: string[] = [];
    a!.on('message', (e) => echoed.push(dec.decode(e.data)));
    await a!.send(enc.encode('back'));
    await fx!.waitFor(() => echoed.includes('back'), 10_000, 'a to get its own message');
    expect(a!.self).toEqual(firstSelf); // same process: same member id
    const reasons = seen.flatMap((e) =>
      [...e.joined, ...e.left].filter((c) => c.nodeid === 1).map((c) => c.reason),
    );
    expect(reasons).toEqual(['join', 'leave', 'join']);
  });

  it('groups() agrees with corosync-cpgtool', async () => {
    const ms = await members([1, 2, 3]);
    const group = unique('listing');
    for (const m of ms) await m.join(group, { timeout: 15_000 });
    await fx!.waitFor(() => ms.every((m) => m.members().length === 3), 15_000, 'three members');
    const listing = await ms[0]!.groups();
    const tool = await execOnNode(1, ['corosync-cpgtool', '-e', '-d', ',']);
    expect(tool.code).toBe(0);
    // lines: GROUP,PID,NODEID (the group name only on its first line, then ,PID,NODEID)
    const fromTool = new Map<string, string[]>();
    let current = '';
    for (const line of tool.stdout.split('\n').slice(1)) {
      if (!line.trim()) continue;
      const [g, pid, nodeid] = line.split(',');
      if (g) current = g;
      const list = fromTool.get(current) ?? [];
      list.push(`${Number(nodeid)}:${Number(pid)}`);
      fromTool.set(current, list);
    }
    const ours = new Map(listing.map((g) => [g.group, g.members.map(key).sort()]));
    expect(ours.get(group)).toEqual(ms.map((m) => key(m.self)).sort());
    expect(new Map([...fromTool].map(([g, l]) => [g, l.sort()]))).toEqual(ours);
  });

  it('close() inside a deliver callback is deferred safely; a new connection then works', async () => {
    const [a] = await members([1]);
    const r = await a!.run<{
      deliveredBeforeClose: number;
      callsAfterClose: number;
      reopenedEcho: boolean;
    }>(scenarios, 'closeInsideCallback', { group: unique('close-inside') });
    expect(r).toEqual({ deliveredBeforeClose: 5, callsAfterClose: 0, reopenedEcho: true });
  });

  it('the initial totem and quorum events reach the Group stream on join', async () => {
    const [a] = await members([3]);
    const events: GroupEvent[] = [];
    a!.on('totem', (e) => events.push(e));
    a!.on('quorum', (e) => events.push(e));
    await a!.join(unique('initial'), { timeout: 15_000 });
    await fx!.waitFor(() => events.length >= 2, 10_000, 'totem and quorum');
    expect(events[0]?.type).toBe('totem');
    if (events[0]?.type === 'totem') expect([...events[0].nodes].sort()).toEqual([1, 2, 3]);
    expect(events[1]).toMatchObject({ type: 'quorum', quorate: true });
    if (events[0]?.type === 'totem' && events[1]?.type === 'quorum')
      expect(events[1].view).toEqual({ ringSeq: events[0].ringId.seq, nodes: [1, 2, 3] });
    expect(a!.quorate).toBe(true);
  });
});
