/** `role`: a replica or a client, as the state machine's options. */
import { describe, expect, it } from 'vitest';
import { MemoryCluster } from '@cpgkit/core/testing';
import { ReplicatedMap, roleOptions } from '../src/index.js';

describe('roleOptions', () => {
  it("'client' is passive, never bootstraps, and takes no dataDir", () => {
    expect(roleOptions({ role: 'client' })).toEqual({
      role: 'client',
      passive: true,
      bootstrap: false,
    });
    expect(() => roleOptions({ role: 'client', dataDir: '/x' })).toThrow(RangeError);
    expect(() => roleOptions({ role: 'client', passive: false })).toThrow(RangeError);
    expect(() => roleOptions({ role: 'client', bootstrap: 'force' })).toThrow(RangeError);
  });
  it("'replica' is not passive; no role leaves the options as they are", () => {
    expect(roleOptions({ role: 'replica', dataDir: '/x' })).toEqual({
      role: 'replica',
      dataDir: '/x',
      passive: false,
    });
    expect(() => roleOptions({ role: 'replica', passive: true })).toThrow(RangeError);
    const o = { passive: true };
    expect(roleOptions(o)).toBe(o);
  });
});

describe('ReplicatedMap.open with a role', () => {
  it('clients read and write through the replicas and never join Q; without a replica they never start a store', async () => {
    const cluster = new MemoryCluster({ nodes: 3, seed: 7 });
    try {
      const lonely = await ReplicatedMap.open(cluster.member(1), {
        groupName: 'g',
        role: 'client',
      });
      await cluster.runUntilIdle({ advanceTime: true, maxTime: 5000 });
      expect(lonely.status).toBe('syncing'); // a client never invents an empty store
      await lonely.close();
      const replicas = await Promise.all(
        [1, 2, 3].map((n) =>
          ReplicatedMap.open(cluster.member(n), { groupName: 'g', role: 'replica' }),
        ),
      );
      await cluster.runUntilIdle({ advanceTime: true, maxTime: 5000 });
      for (const r of replicas) expect(r.status).toBe('ready');
      const client = await ReplicatedMap.open(cluster.member(2), {
        groupName: 'g',
        role: 'client',
      });
      await cluster.runUntilIdle();
      expect(client.status).toBe('ready');
      const set = client.set('k', 'v');
      await cluster.runUntilIdle();
      expect(await set).toBeGreaterThan(0);
      expect(replicas[2]!.get('k')).toBe('v');
      expect(replicas[0]!.machine.replicas).toHaveLength(3);
      expect(replicas[0]!.machine.replicas).not.toContain(client.machine.replicaId);
      await client.close();
      for (const r of replicas) await r.close();
    } finally {
      cluster.destroy();
    }
  });
});
