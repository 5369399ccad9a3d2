/**
 * The conformance suite: what every `GroupTransport` must do, written once against
 * `GroupTransport` and a `ClusterFixture`, and run on the in-memory cluster
 * (test/conformance/memory.test.ts) and on real corosync (test/cluster/conformance/).
 *
 * Facts about real corosync 3.1.7 that the assertions encode (the in-memory cluster was made
 * to produce the same shapes):
 * - a joiner's first event is the membership event of its own join, with every member;
 *   the initial totem event follows it;
 * - a member that leaves receives its own leave (reason `leave`) as its last membership event
 *   (corosync then goes on delivering the group's events to the old handle: `Group` drops it);
 * - kill -9 of a member: the others see `procdown`; a daemon's death: `nodedown`, in one
 *   event per group for all members of the lost node(s), followed by a totem event;
 * - a partition: each side sees the other side's members leave in ONE event with `nodedown`,
 *   then a totem event with its own nodes; on heal each side sees the other side's members
 *   come back in ONE event with `nodeup`;
 * - quorum is per side: the minority side loses it, the majority keeps it; each side gets a
 *   quorum view of its new ring (`view`: that ring's seq and nodes), whether its flag changed
 *   or not;
 * - a restarted daemon comes back with no member of the group (its processes died with it);
 *   a new member there joins with the live members only, and sees its component's quorum.
 * @module
 */
import { describe, it, expect, afterEach } from 'vitest';
import type { GroupTransport } from '@cpgkit/core';
import type { ClusterFixture } from './fixture.js';
import { Names, Recorder } from './recorder.js';

const enc = new TextEncoder();

/** A group name no other test (or earlier run on a real cluster) uses. */
function uniqueName(what: string): string {
  return `conf-${what}-${process.pid}-${Math.floor(Math.random() * 1e9).toString(36)}`;
}

interface Joined {
  readonly member: GroupTransport;
  readonly rec: Recorder;
}

/**
 * Register the conformance tests.
 * @param makeFixture - a fresh fixture per test (closed after it)
 * @param options - `timeoutMs`: how long to wait for one expected event (real clusters need
 *   seconds for membership changes)
 */
export function conformanceSuite(
  makeFixture: () => Promise<ClusterFixture>,
  options: { timeoutMs?: number } = {},
): void {
  const timeout = options.timeoutMs ?? 20_000;
  let fixture: ClusterFixture | undefined;

  afterEach(async () => {
    const f = fixture;
    fixture = undefined;
    await f?.close();
  });

  async function setup(): Promise<{ f: ClusterFixture; names: Names }> {
    fixture = await makeFixture();
    return { f: fixture, names: new Names() };
  }

  /** A member on `node`, recorded from creation, joined to `group`, named `label`. */
  async function join(
    f: ClusterFixture,
    names: Names,
    node: number,
    group: string,
    label: string,
  ): Promise<Joined> {
    const member = await f.member(node);
    const rec = new Recorder(member);
    await member.join(group, { timeout });
    names.add(label, member);
    return { member, rec };
  }

  /** Wait until every member has seen exactly `count` members in its last membership event. */
  async function waitMembers(f: ClusterFixture, joined: Joined[], count: number): Promise<void> {
    await f.waitFor(
      () => joined.every((j) => j.member.members().length === count),
      timeout,
      `every member seeing ${count} members`,
    );
  }

  /**
   * A fresh fixture and a new group of `count` members, one on each of the first `count`
   * nodes, named `a`, `b`, `c`, each recorded from creation, every one seeing all of them.
   */
  async function joinedGroup(
    what: string,
    count: 1 | 2 | 3,
  ): Promise<{ f: ClusterFixture; names: Names; g: string; members: Joined[] }> {
    const { f, names } = await setup();
    const g = uniqueName(what);
    const members: Joined[] = [];
    for (let i = 0; i < count; i++) {
      members.push(await join(f, names, f.nodes[i]!, g, 'abc'[i]!));
    }
    await waitMembers(f, members, count);
    return { f, names, g, members };
  }

  describe('GroupTransport conformance', () => {
    it('delivers a member its own messages (self-delivery)', async () => {
      const { f, names, members } = await joinedGroup('self', 1);
      const [a] = members as [Joined];
      await a.member.send(enc.encode('hello'));
      await f.waitFor(() => a.rec.messages(names).length === 1, timeout, 'self-delivery');
      expect(a.rec.messages(names)).toEqual(['a:hello']);
      const m = a.rec.events.find((e) => e.type === 'message');
      expect(m?.type === 'message' && m.sender).toEqual(a.member.self);
    });

    it('delivers the same messages in the same order to everyone, with concurrent senders', async () => {
      const { f, names, members: all } = await joinedGroup('order', 3);
      const labels = ['a', 'b', 'c'];
      const perSender = 40;
      const sends: Promise<void>[] = [];
      for (let k = 0; k < perSender; k++) {
        all.forEach((j, i) => sends.push(j.member.send(enc.encode(`${labels[i]}${k}`))));
        if (k % 10 === 9) await Promise.all(sends.splice(0));
      }
      await Promise.all(sends);
      const total = perSender * 3;
      await f.waitFor(
        () => all.every((j) => j.rec.messages(names).length >= total),
        timeout,
        `all ${total} messages delivered everywhere`,
      );
      const seqs = all.map((j) => j.rec.messages(names));
      expect(seqs[0]).toHaveLength(total);
      expect(seqs[1]).toEqual(seqs[0]);
      expect(seqs[2]).toEqual(seqs[0]);
      // Each sender's messages keep their order (FIFO per sender inside the total order).
      for (const l of labels) {
        const mine = seqs[0]!.filter((s) => s.startsWith(`${l}:`)).map((s) => s.slice(2));
        expect(mine).toEqual(Array.from({ length: perSender }, (_, k) => `${l}${k}`));
      }
    });

    it('reports joins with every member, then the initial totem event', async () => {
      const { f, names, members } = await joinedGroup('join', 2);
      const [a, b] = members as [Joined, Joined];
      expect(a.rec.memberships(names)).toEqual([
        'members=[a] joined=[a:join] left=[]',
        'members=[a,b] joined=[b:join] left=[]',
      ]);
      expect(b.rec.memberships(names)).toEqual(['members=[a,b] joined=[b:join] left=[]']);
      // The joiner's first event is its own join; the initial totem event follows it.
      const first = b.rec.events.findIndex((e) => e.type === 'membership');
      const totem = b.rec.events.findIndex((e) => e.type === 'totem');
      expect(first).toBeGreaterThanOrEqual(0);
      expect(totem).toBeGreaterThan(first);
      const t = b.rec.events[totem];
      expect(t?.type === 'totem' && [...t.nodes].sort()).toEqual([...f.nodes].sort());
    });

    it('reports a leave to the others and to the leaver; sends after leave reject', async () => {
      const { f, names, members } = await joinedGroup('leave', 2);
      const [a, b] = members as [Joined, Joined];
      await b.member.leave();
      await f.waitFor(() => a.member.members().length === 1, timeout, 'a seeing b leave');
      expect(a.rec.memberships(names).at(-1)).toBe('members=[a] joined=[] left=[b:leave]');
      expect(b.rec.memberships(names).at(-1)).toBe('members=[a] joined=[] left=[b:leave]');
      expect(b.member.joined).toBe(false);
      await expect(b.member.send(enc.encode('late'))).rejects.toMatchObject({
        name: 'NotJoinedError',
      });
      // corosync 3.1.7 keeps delivering the group's events to a handle that left; a member
      // that left must not see them.
      const seen = b.rec.events.length;
      await a.member.send(enc.encode('after-leave'));
      await f.waitFor(() => a.rec.messages(names).includes('a:after-leave'), timeout, 'a sending');
      await f.runUntilIdle();
      expect(b.rec.describe(names, seen).filter((s) => !s.startsWith('quorum'))).toEqual([]);
    });

    it('lets a member join again after leaving, with the same member id', async () => {
      const { f, names, g, members } = await joinedGroup('rejoin', 2);
      const [a, b] = members as [Joined, Joined];
      const before = b.member.self;
      await b.member.leave();
      await f.waitFor(() => a.member.members().length === 1, timeout, 'b leaving');
      await b.member.join(g, { timeout });
      await waitMembers(f, [a, b], 2);
      expect(b.member.self).toEqual(before);
      expect(a.rec.memberships(names).slice(-2)).toEqual([
        'members=[a] joined=[] left=[b:leave]',
        'members=[a,b] joined=[b:join] left=[]',
      ]);
      await b.member.send(enc.encode('back'));
      await f.waitFor(
        () => a.rec.messages(names).includes('b:back'),
        timeout,
        'b sending after rejoin',
      );
    });

    it('reports a killed process as procdown', async () => {
      const { f, names, members } = await joinedGroup('procdown', 2);
      const [a, b] = members as [Joined, Joined];
      await f.crashProcess(b.member);
      await f.waitFor(() => a.member.members().length === 1, timeout, 'a seeing b die');
      expect(a.rec.memberships(names).at(-1)).toBe('members=[a] joined=[] left=[b:procdown]');
    });

    it('reports a dead node as nodedown, then a totem event without it', async () => {
      const { f, names, members } = await joinedGroup('nodedown', 3);
      const [a, b] = members as [Joined, Joined, Joined];
      const [n1, n2, n3] = f.nodes as [number, number, number];
      const mark = a.rec.events.length;
      await f.crashNode(n3);
      try {
        await f.waitFor(
          // b too: on a real cluster each member hears of it in its own time
          () =>
            a.rec.totems().some((t) => t.length === 2) &&
            a.member.members().length === 2 &&
            b.member.members().length === 2,
          timeout,
          'a and b seeing node 3 go',
        );
        const after = a.rec.describe(names, mark).filter((s) => !s.startsWith('quorum'));
        expect(after).toEqual([
          'membership members=[a,b] joined=[] left=[c:nodedown]',
          `totem [${[n1, n2].join(',')}]`,
        ]);
        expect(b.rec.memberships(names).at(-1)).toBe('members=[a,b] joined=[] left=[c:nodedown]');
        // Two of three nodes keep quorum.
        expect(a.member.quorate).toBe(true);
      } finally {
        await f.restartNode(n3);
      }
      await f.waitFor(
        () => a.rec.totems().at(-1)?.length === 3,
        timeout * 2,
        'node 3 coming back into the ring',
      );
      // No member of the group on the restarted node: no group event, only the totem.
      expect(a.rec.memberships(names).at(-1)).toBe('members=[a,b] joined=[] left=[c:nodedown]');
    });

    it('brings a restarted node back with no member: its crashed members stay gone, a new one gets quorum', async () => {
      const { f, names, g, members } = await joinedGroup('restart', 3);
      const [a, b] = members as [Joined, Joined, Joined];
      const [, , n3] = f.nodes as [number, number, number];
      await f.crashNode(n3);
      try {
        await f.waitFor(() => a.member.members().length === 2, timeout, 'a seeing node 3 go');
      } finally {
        await f.restartNode(n3);
      }
      await f.waitFor(
        () => a.rec.totems().at(-1)?.length === 3,
        timeout * 2,
        'node 3 coming back into the ring',
      );
      const d = await join(f, names, n3, g, 'd');
      await waitMembers(f, [a, b, d], 3);
      await f.waitFor(() => d.member.quorate, timeout, 'the new member on node 3 seeing quorum');
      expect(a.rec.memberships(names).slice(-2)).toEqual([
        'members=[a,b] joined=[] left=[c:nodedown]',
        'members=[a,b,d] joined=[d:join] left=[]',
      ]);
      expect(d.rec.memberships(names)).toEqual(['members=[a,b,d] joined=[d:join] left=[]']);
      expect(b.rec.memberships(names).at(-1)).toBe('members=[a,b,d] joined=[d:join] left=[]');
    });

    it('goes on on both sides of a partition, with quorum only on the majority, and merges on heal', async () => {
      const { f, names, members } = await joinedGroup('partition', 3);
      const [a, b, c] = members as [Joined, Joined, Joined];
      const [n1, n2, n3] = f.nodes as [number, number, number];
      await f.waitFor(
        () => a.member.quorate && b.member.quorate,
        timeout,
        'quorum before the partition',
      );
      const markA = a.rec.events.length;
      const markB = b.rec.events.length;
      await f.partition([n1], [n2, n3]);
      let healed = false;
      try {
        await f.waitFor(
          () =>
            a.member.members().length === 1 && b.member.members().length === 2 && !a.member.quorate,
          timeout,
          'both sides seeing the split, and node 1 losing quorum',
        );
        await f.waitFor(
          () => a.rec.totems().at(-1)?.length === 1 && b.rec.totems().at(-1)?.length === 2,
          timeout,
          'the totem events of the split',
        );
        const memOf = (r: Recorder, from: number): string[] =>
          r
            .describe(names, from)
            .filter((s) => s.startsWith('membership') || s.startsWith('totem'));
        expect(memOf(a.rec, markA)).toEqual([
          'membership members=[a] joined=[] left=[b:nodedown,c:nodedown]',
          `totem [${n1}]`,
        ]);
        expect(memOf(b.rec, markB)).toEqual([
          'membership members=[b,c] joined=[] left=[a:nodedown]',
          `totem [${[n2, n3].join(',')}]`,
        ]);
        expect(b.member.quorate).toBe(true);
        expect(c.member.quorate).toBe(true);

        // Each side goes on alone: messages stay on their side.
        await a.member.send(enc.encode('only-a'));
        await b.member.send(enc.encode('only-bc'));
        await f.waitFor(
          () =>
            a.rec.messages(names).includes('a:only-a') &&
            c.rec.messages(names).includes('b:only-bc') &&
            b.rec.messages(names).includes('b:only-bc'),
          timeout,
          'messages delivered on each side',
        );
        expect(a.rec.messages(names)).not.toContain('b:only-bc');
        expect(b.rec.messages(names)).not.toContain('a:only-a');
        expect(c.rec.messages(names)).not.toContain('a:only-a');

        const healA = a.rec.events.length;
        const healB = b.rec.events.length;
        await f.heal();
        healed = true;
        await f.waitFor(
          () => [a, b, c].every((j) => j.member.members().length === 3) && a.member.quorate,
          timeout * 2,
          'the merge, and node 1 quorate again',
        );
        await f.waitFor(
          () => a.rec.totems().at(-1)?.length === 3 && b.rec.totems().at(-1)?.length === 3,
          timeout,
          'the totem events of the merge',
        );
        expect(memOf(a.rec, healA)).toEqual([
          'membership members=[a,b,c] joined=[b:nodeup,c:nodeup] left=[]',
          `totem [${[n1, n2, n3].join(',')}]`,
        ]);
        expect(memOf(b.rec, healB)).toEqual([
          'membership members=[a,b,c] joined=[a:nodeup] left=[]',
          `totem [${[n1, n2, n3].join(',')}]`,
        ]);
        // Quorum: a view of each new ring. Node 1 went false then true; nodes 2 and 3 stayed
        // quorate, and got the views all the same. Each view names a ring of a totem event.
        const q = (r: Recorder, from: number): string[] =>
          r.describe(names, from).filter((s) => s.startsWith('quorum'));
        const all = [n1, n2, n3].join(',');
        await f.waitFor(
          () =>
            q(a.rec, markA).at(-1) === `quorum true [${all}]` &&
            q(b.rec, markB).at(-1) === `quorum true [${all}]`,
          timeout,
          'the quorum views of the merged ring',
        );
        // (the first and the last: corosync may form a ring in between)
        const ends = (l: string[]) => [l[0], l.at(-1)];
        expect(ends(q(a.rec, markA))).toEqual([`quorum false [${n1}]`, `quorum true [${all}]`]);
        expect(ends(q(b.rec, markB))).toEqual([
          `quorum true [${[n2, n3].join(',')}]`,
          `quorum true [${all}]`,
        ]);
        for (const r of [a.rec, b.rec]) {
          const rings = new Set(
            r.events.flatMap((e) => (e.type === 'totem' ? [e.ringId.seq] : [])),
          );
          for (const e of r.events.slice(r === a.rec ? markA : markB))
            if (e.type === 'quorum') expect(rings.has(e.view!.ringSeq)).toBe(true);
        }
      } finally {
        if (!healed) await f.heal();
      }
    });

    it('delivers bytes that look like a frame but are not one, intact', async () => {
      const { f, members } = await joinedGroup('foreign', 2);
      const [a, b] = members as [Joined, Joined];
      const lookalike = new Uint8Array([0xff, 0x63, 0x70, 0x67, 9, 9, 1, 2, 3]);
      const batchLike = new Uint8Array([0xff, 0x63, 0x70, 0x67, 1, 1, 200, 0, 0, 0, 1]);
      const plain = enc.encode('plain text');
      const empty = new Uint8Array(0);
      for (const m of [lookalike, batchLike, plain, empty]) await a.member.send(m);
      await f.waitFor(() => b.rec.payloads().length >= 4, timeout, 'the four messages');
      expect(b.rec.payloads().map((p) => [...p])).toEqual(
        [lookalike, batchLike, plain, empty].map((p) => [...p]),
      );
    });

    it('delivers send([x, y, z]) as three consecutive messages, with another sender busy', async () => {
      const { f, names, members } = await joinedGroup('batch', 2);
      const [a, b] = members as [Joined, Joined];
      const noise: Promise<void>[] = [];
      for (let i = 0; i < 20; i++) noise.push(b.member.send(enc.encode(`n${i}`)));
      await a.member.send([enc.encode('x'), enc.encode('y'), enc.encode('z')]);
      await Promise.all(noise);
      await f.waitFor(
        () => [a, b].every((j) => j.rec.messages(names).length === 23),
        timeout,
        'all 23 messages',
      );
      for (const j of [a, b]) {
        const seq = j.rec.messages(names);
        const at = seq.indexOf('a:x');
        expect(seq.slice(at, at + 3)).toEqual(['a:x', 'a:y', 'a:z']);
      }
      expect(a.rec.messages(names)).toEqual(b.rec.messages(names));
    });

    it('carries messages larger than the atomic size (chunked) between other traffic', async () => {
      const { f, names, members } = await joinedGroup('large', 2);
      const [a, b] = members as [Joined, Joined];
      const big = new Uint8Array(3 * 1024 * 1024 + 17);
      for (let i = 0; i < big.length; i++) big[i] = (i * 7 + 3) & 0xff;
      const sends = [
        a.member.send(enc.encode('before')),
        a.member.send(big),
        a.member.send(enc.encode('after')),
      ];
      await Promise.all(sends);
      await f.waitFor(() => b.rec.payloads().length === 3, timeout, 'the three messages');
      const got = b.rec.payloads();
      expect(got[1]!.length).toBe(big.length);
      expect(Buffer.from(got[1]!).equals(Buffer.from(big))).toBe(true);
      expect(b.rec.messages(names)[0]).toBe('a:before');
      expect(b.rec.messages(names)[2]).toBe('a:after');
    });

    it('rejects bad names before touching the engine, and a second join of the same member', async () => {
      const { f, names } = await setup();
      const m = await f.member(f.nodes[0]!);
      await expect(m.join('')).rejects.toMatchObject({ name: 'InvalidGroupNameError' });
      await expect(m.join('x'.repeat(129))).rejects.toMatchObject({
        name: 'InvalidGroupNameError',
      });
      await expect(m.join('é'.repeat(65))).rejects.toMatchObject({ name: 'InvalidGroupNameError' });
      await expect(m.send(enc.encode('early'))).rejects.toMatchObject({ name: 'NotJoinedError' });
      const g = uniqueName('names');
      await m.join(g, { timeout });
      names.add('a', m);
      await expect(m.join(g)).rejects.toMatchObject({ name: 'AlreadyJoinedError' });
      const longest = 'é'.repeat(64); // exactly 128 bytes
      const other = await f.member(f.nodes[1]!);
      await other.join(longest, { timeout });
      expect(other.name).toBe(longest);
    });
  });
}
