import { afterAll, describe, expect, it } from 'vitest';
import { requireCluster } from '../harness/availability.js';
import {
  execOnNode,
  healNodes,
  isolateNode,
  killNode,
  runClusterScript,
  startNode,
  waitNodes,
  waitQuorum,
} from '../harness/cluster.js';

const env = requireCluster();

async function quorumInfo(node: number): Promise<{ nodes: number; quorate: boolean }> {
  const r = await execOnNode(node, ['corosync-quorumtool', '-s']);
  const nodes = Number(/^Nodes:\s+(\d+)/m.exec(r.stdout)?.[1] ?? -1);
  const quorate = /^Quorate:\s+Yes/m.test(r.stdout);
  return { nodes, quorate };
}

describe('scripts/cluster', () => {
  afterAll(async () => {
    if (!env) return;
    await healNodes();
    await startNode(3);
    await waitNodes(3);
  });

  it('runs three quorate nodes, each in its own namespace', async () => {
    expect(env?.nodes.map((n) => n.node)).toEqual([1, 2, 3]);
    for (const n of [1, 2, 3]) {
      expect(await quorumInfo(n)).toEqual({ nodes: 3, quorate: true });
      const ip = await execOnNode(n, ['ip', '-4', '-o', 'addr', 'show']);
      expect(ip.stdout).toContain(`${env?.subnet}.${n}/24`);
    }
    const pids = (await runClusterScript(['pids'])).stdout.trim().split('\n');
    expect(pids).toHaveLength(3);
    expect(new Set(pids.map((l) => l.split(' ')[1])).size).toBe(3);
  });

  it('kill and start a daemon: the others see the node leave and come back', async () => {
    await killNode(3);
    await waitNodes(2, [1, 2], 20);
    expect(await quorumInfo(1)).toEqual({ nodes: 2, quorate: true });
    expect((await execOnNode(3, ['corosync-quorumtool', '-s'])).code).not.toBe(0);
    await startNode(3);
    await waitNodes(3, [], 20);
    expect(await quorumInfo(3)).toEqual({ nodes: 3, quorate: true });
  });

  it('isolate and heal: both sides go on, the lone node loses quorum, then they merge', async () => {
    await isolateNode(2);
    await waitNodes(2, [1, 3], 20);
    await waitNodes(1, [2], 20);
    expect(await quorumInfo(2)).toEqual({ nodes: 1, quorate: false });
    expect(await quorumInfo(1)).toEqual({ nodes: 2, quorate: true });
    await healNodes(2);
    await waitNodes(3, [], 20);
    await waitQuorum();
    expect(await quorumInfo(2)).toEqual({ nodes: 3, quorate: true });
  });
});
