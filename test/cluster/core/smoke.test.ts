import type { MessageEvent } from '@cpgkit/core';
import { afterEach, describe, expect, it } from 'vitest';
import { requireCluster } from '../harness/availability.js';
import { RealCluster } from '../harness/real-cluster.js';

requireCluster();
const enc = new TextEncoder();
const dec = new TextDecoder();

describe('smoke: three members on three real nodes', () => {
  let fx: RealCluster | undefined;
  afterEach(async () => {
    await fx?.close();
    fx = undefined;
  });

  it('one sends, all three receive it with the right sender', async () => {
    fx = await RealCluster.open();
    const cluster = fx;
    const members = await Promise.all(cluster.nodes.map((n) => cluster.member(n)));
    const group = `smoke-${process.pid}-${Date.now()}`;
    const received = members.map(() => [] as MessageEvent[]);
    members.forEach((m, i) => m.on('message', (e) => received[i]!.push(e)));
    for (const m of members) await m.join(group, { timeout: 10_000 });
    await cluster.waitFor(
      () => members.every((m) => m.members().length === 3),
      15_000,
      'all three to see three members',
    );

    // each member runs on its own node, in its own process
    expect(members.map((m) => m.self.nodeid)).toEqual([1, 2, 3]);
    expect(members.map((m) => m.self.pid)).toEqual(members.map((m) => m.pid));

    await members[1]!.send(enc.encode('hello from node 2'));
    await cluster.waitFor(
      () => received.every((r) => r.length === 1),
      10_000,
      'every member to receive the message',
    );
    for (const r of received) {
      expect(dec.decode(r[0]!.data)).toBe('hello from node 2');
      expect(r[0]!.sender).toEqual(members[1]!.self);
    }
    const listing = await members[0]!.groups();
    const ours = listing.find((g) => g.group === group);
    expect(ours?.members.map((m) => `${m.nodeid}:${m.pid}`).sort()).toEqual(
      members.map((m) => `${m.self.nodeid}:${m.self.pid}`).sort(),
    );
  });
});
