/**
 * Membership reasons and failures on a real cluster: leave, procdown, nodedown, partition and
 * heal (nodeup), the daemon dying under a member, errors that must be typed.
 */
import { join } from 'node:path';
import type { MemberChange, MemberId, MembershipEvent, QuorumEvent } from '@cpgkit/core';
import { afterEach, describe, expect, it } from 'vitest';
import { requireCluster } from '../harness/availability.js';
import { execOnNode, repoRoot } from '../harness/cluster.js';
import { RealCluster } from '../harness/real-cluster.js';
import type { RemoteGroup } from '../harness/remote-group.js';
import { worldReadable } from '../harness/world-readable.js';
import type { DriverEvent } from './binding-scenarios.js';

requireCluster();
const scenarios = new URL('./binding-scenarios.ts', import.meta.url).href;
const unique = (what: string) => `${what}-${process.pid}-${Date.now().toString(36)}`;
const key = (m: MemberId) => `${m.nodeid}:${m.pid}`;
const changes = (events: MembershipEvent[], pick: 'joined' | 'left') =>
  events.flatMap((e) => e[pick].map((c: MemberChange) => `${key(c)}:${c.reason}`));

describe('membership and failures on a real cluster', () => {
  let fx: RealCluster | undefined;
  afterEach(async () => {
    await fx?.close();
    fx = undefined;
  });

  async function joined(nodes: number[], group: string): Promise<RemoteGroup[]> {
    fx ??= await RealCluster.open();
    const cluster = fx;
    const ms = await Promise.all(nodes.map((n) => cluster.member(n)));
    for (const m of ms) await m.join(group, { timeout: 15_000 });
    await cluster.waitFor(
      () => ms.every((m) => m.members().length === nodes.length),
      15_000,
      `${nodes.length} members everywhere`,
    );
    return ms;
  }

  it('leave and process kill: the others see `leave` and `procdown`', async () => {
    const ms = await joined([1, 2, 3], unique('reasons'));
    const [a, b, c] = ms as [RemoteGroup, RemoteGroup, RemoteGroup];
    const seen: MembershipEvent[] = [];
    a.on('membership', (e) => seen.push(e));
    const bSelf = b.self;
    const cSelf = c.self;
    await b.leave();
    await fx!.waitFor(() => a.members().length === 2, 15_000, 'b to leave');
    await fx!.crashProcess(c);
    await fx!.waitFor(() => a.members().length === 1, 15_000, 'c to go');
    expect(changes(seen, 'left')).toEqual([`${key(bSelf)}:leave`, `${key(cSelf)}:procdown`]);
    expect(seen.at(-1)!.members).toEqual([a.self]);
    await expect(c.closed()).resolves.toBeInstanceOf(Error);
  });

  it('daemon kill: the others see `nodedown`; the member on that node ends with ConnectionLostError', async () => {
    const ms = await joined([1, 2, 3], unique('nodedown'));
    const [a, , c] = ms as [RemoteGroup, RemoteGroup, RemoteGroup];
    const seen: MembershipEvent[] = [];
    a.on('membership', (e) => seen.push(e));
    const cSelf = c.self;
    const ended = c.closed();
    await fx!.crashNode(3);
    await fx!.waitFor(() => a.members().length === 2, 20_000, 'node 3 members to go');
    expect(changes(seen, 'left')).toEqual([`${key(cSelf)}:nodedown`]);
    const why = await ended;
    expect(why).toBeInstanceOf(Error);
    expect((why as Error).name).toBe('ConnectionLostError');
    expect((why as Error).message).toMatch(/restart corosync/);
  });

  it('the driver reports the daemon dying once with lost(ConnectionLostError); mcast then throws', async () => {
    fx = await RealCluster.open();
    const m = await fx.member(2);
    const emitted: unknown[] = [];
    let ready: () => void = () => {};
    const isReady = new Promise<void>((r) => (ready = r));
    const result = m.run<DriverEvent>(
      scenarios,
      'untilLost',
      { group: unique('lost') },
      {
        onEmit: (v) => {
          emitted.push(v);
          if ((v as { ready?: boolean }).ready) ready();
        },
      },
    );
    await isReady;
    await fx.crashNode(2);
    const lost = await result;
    expect(lost.type).toBe('lost');
    if (lost.type === 'lost') {
      expect(lost.name).toBe('ConnectionLostError');
      expect(lost.csError).toBe(2); // CS_ERR_LIBRARY
    }
    expect(emitted).toContainEqual({ mcastAfterLost: 'ConnectionLostError' });
  });

  it('partition and heal: each side sees the other leave (nodedown) and come back (nodeup); a quorum view per ring', async () => {
    const ms = await joined([1, 2, 3], unique('partition'));
    const [a, , c] = ms as [RemoteGroup, RemoteGroup, RemoteGroup];
    const seenA: MembershipEvent[] = [];
    const seenC: MembershipEvent[] = [];
    a.on('membership', (e) => seenA.push(e));
    c.on('membership', (e) => seenC.push(e));
    const quorumC: boolean[] = [];
    c.on('quorum', (e) => quorumC.push(e.quorate));
    // votequorum sends a view at every ring, whether the flag changed or not (the majority
    // side stays quorate): each names its ring, the one of the totem event of that change
    const viewsA: QuorumEvent[] = [];
    const viewsC: QuorumEvent[] = [];
    const ringsA: bigint[] = [];
    const ringsC: bigint[] = [];
    a.on('quorum', (e) => viewsA.push(e));
    c.on('quorum', (e) => viewsC.push(e));
    a.on('totem', (e) => ringsA.push(e.ringId.seq));
    c.on('totem', (e) => ringsC.push(e.ringId.seq));
    await fx!.partition([1, 2], [3]);
    await fx!.waitFor(
      () => a.members().length === 2 && c.members().length === 1,
      20_000,
      'the split',
    );
    expect(changes(seenA, 'left')).toEqual([`${key(c.self)}:nodedown`]);
    expect(changes(seenC, 'left').sort()).toEqual(
      ms
        .slice(0, 2)
        .map((m) => `${key(m.self)}:nodedown`)
        .sort(),
    );
    await fx!.waitFor(() => quorumC.includes(false), 10_000, 'node 3 to lose quorum');
    expect(a.quorate).toBe(true);
    // (the totem event follows the group's confchg; the view comes in no set order with it)
    const viewOfLatestRing = (views: QuorumEvent[], rings: bigint[]) =>
      rings.length > 0 && views.at(-1)?.view?.ringSeq === rings.at(-1);
    await fx!.waitFor(
      () => viewOfLatestRing(viewsA, ringsA) && viewOfLatestRing(viewsC, ringsC),
      10_000,
      'views of the split rings',
    );
    expect(viewsA.at(-1)).toEqual({
      type: 'quorum',
      quorate: true,
      view: { ringSeq: ringsA.at(-1), nodes: [1, 2] },
    });
    expect(viewsC.at(-1)).toEqual({
      type: 'quorum',
      quorate: false,
      view: { ringSeq: ringsC.at(-1), nodes: [3] },
    });
    const splitRings = [ringsA.length, ringsC.length];
    await fx!.heal();
    await fx!.waitFor(
      () => a.members().length === 3 && c.members().length === 3,
      30_000,
      'the merge',
    );
    expect(changes(seenA, 'joined')).toContain(`${key(c.self)}:nodeup`);
    expect(changes(seenC, 'joined')).toEqual(
      expect.arrayContaining(ms.slice(0, 2).map((m) => `${key(m.self)}:nodeup`)),
    );
    await fx!.waitFor(() => quorumC.at(-1) === true, 10_000, 'node 3 to regain quorum');
    await fx!.waitFor(
      () =>
        ringsA.length > splitRings[0]! &&
        ringsC.length > splitRings[1]! &&
        viewOfLatestRing(viewsA, ringsA) &&
        viewOfLatestRing(viewsC, ringsC),
      10_000,
      'views of the merged ring',
    );
    expect(viewsA.at(-1)).toEqual({
      type: 'quorum',
      quorate: true,
      view: { ringSeq: ringsA.at(-1), nodes: [1, 2, 3] },
    });
    expect(viewsC.at(-1)?.view).toEqual({ ringSeq: ringsC.at(-1), nodes: [1, 2, 3] });
  });

  it('bad inputs fail with typed errors before any C call; a second join in one process is AlreadyJoinedError', async () => {
    fx = await RealCluster.open();
    const m = await fx.member(1);
    const bad = await m.run<Record<string, string>>(scenarios, 'badInputs');
    expect(bad).toEqual({
      join129: 'InvalidGroupNameError',
      joinEmpty: 'InvalidGroupNameError',
      leaveUnjoined: 'NotJoinedError',
      membersUnjoined: 'NotJoinedError',
      mcastClosed: 'GroupClosedError',
      joinClosed: 'GroupClosedError',
      groupNameTooLong: 'InvalidGroupNameError',
      groupSendTooLarge: 'MessageTooLargeError',
    });
    const twice = await m.run<{ first: string; second: string }>(scenarios, 'secondJoin', {
      group: unique('twice'),
    });
    expect(twice).toEqual({ first: 'joined', second: 'AlreadyJoinedError' });
    await expect(m.join('x'.repeat(129))).rejects.toMatchObject({ name: 'InvalidGroupNameError' });
  });

  it('a user corosync does not allow gets AccessDeniedError saying how to allow it', async () => {
    // uid 65534 cannot read a checkout inside a 0700 directory: it runs a bundled copy of the
    // probe from a world-readable directory instead
    await using probe = await worldReadable(
      join(repoRoot, 'packages/core/test/fixtures/native-probe.ts'),
    );
    const r = await execOnNode(1, [
      'setpriv',
      '--reuid=65534',
      '--regid=65534',
      '--clear-groups',
      process.execPath,
      probe.script,
      'connect',
    ]);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as {
      error?: { name: string; message: string; csError: number };
    };
    expect(out.error).toMatchObject({ name: 'AccessDeniedError', csError: 11 });
    expect(out.error?.message).toMatch(/uidgid/);
  });

  it('manual dispatch: nothing arrives until dispatch() is called', async () => {
    fx = await RealCluster.open();
    const m = await fx.member(3);
    const r = await m.run<{
      beforeDispatch: number;
      joinedAfterDispatch: boolean;
      echoed: string;
      idleDispatch: boolean;
    }>(scenarios, 'manualDispatch', { group: unique('manual') });
    expect(r).toEqual({
      beforeDispatch: 0,
      joinedAfterDispatch: true,
      echoed: 'manual',
      idleDispatch: false,
    });
  });

  it('manual dispatch: after its own leave, a Group hears nothing more from the group on the old handle', async () => {
    const group = unique('manual-deaf');
    const [b] = await joined([2], group);
    const a = await fx!.member(1);
    const c = await fx!.member(3);
    let busy: Promise<void> | undefined;
    const r = await a.run<{ afterLeave: string[]; joinedAfterLeave: boolean }>(
      scenarios,
      'manualLeaveDeaf',
      { group, members: 2, listenMs: 4000 },
      {
        onEmit: () => {
          // the group goes on: a join and messages, which corosync delivers to a's old handle
          busy ??= (async () => {
            await c.join(group, { timeout: 15_000 });
            await b!.send(new TextEncoder().encode('after a left'));
            await c.send(new TextEncoder().encode('from c'));
          })();
        },
      },
    );
    await busy;
    expect(r).toEqual({ afterLeave: ['membership 1'], joinedAfterLeave: false });
    await fx!.waitFor(() => b!.members().length === 2, 15_000, 'b and c');
  });

  it('an idle joined member costs (almost) no CPU: no polling timers', async () => {
    fx = await RealCluster.open();
    const m = await fx.member(1);
    const micros = await m.run<number>(scenarios, 'idleCpu', { group: unique('idle'), ms: 2000 });
    // a 1 ms polling loop would burn well over 100 ms of CPU in 2 s
    expect(micros).toBeLessThan(50_000);
  });
});
