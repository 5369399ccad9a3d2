/**
 * A new store starts once an agent runs on every node of the ring (`bootstrap: true`), or at
 * once with `--bootstrap-alone` (where only some nodes run `cpgkit serve`).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryCluster } from '@cpgkit/core/testing';
import type { Agent } from '../src/agent/agent.js';
import { agentReady, startAgent } from './memory-agents.js';

describe('cpgkit serve: when a new store starts', () => {
  let cluster: MemoryCluster | undefined;
  const agents: Agent[] = [];
  afterEach(async () => {
    await Promise.all(agents.splice(0).map((a) => a.stop()));
    cluster?.destroy();
  });

  it('an agent alone on a 3-node cluster waits for the others; once they run, all are ready', async () => {
    cluster = new MemoryCluster({ nodes: 3, seed: 5, realTime: true });
    agents.push(startAgent(cluster, 1, 'boot-wait').agent);
    await expect(agentReady(agents[0]!, 1500)).rejects.toThrow(/not ready/);
    for (const n of [2, 3]) agents.push(startAgent(cluster, n, 'boot-wait').agent);
    await Promise.all(agents.map((a) => agentReady(a)));
  });

  it('--bootstrap-alone: the first agent starts the store without the other nodes', async () => {
    cluster = new MemoryCluster({ nodes: 3, seed: 6, realTime: true });
    agents.push(startAgent(cluster, 1, 'boot-alone', { bootstrapAlone: true }).agent);
    await agentReady(agents[0]!);
  });
});
