/**
 * `cpgkit lock` run through `main()` on the in-memory cluster in real time (`cliTransport`
 * points the command at it instead of corosync), with an agent (`cpgkit serve`) on every node:
 * exit codes, the token in COMMAND's environment, and `--timeout` bounding the wait for
 * quorum/sync as well as the grant.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MemoryCluster } from '@cpgkit/core/testing';
import { Locks } from '@cpgkit/locks';
import type { Agent } from '../src/agent/agent.js';
import { EXIT_TIMEOUT } from '../src/commands/lock.js';
import { agentReady, cpgkitOn, startAgent } from './memory-agents.js';

const GROUP = 'cli-lock-test';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('cpgkit lock on the in-memory cluster', () => {
  let cluster: MemoryCluster;
  let agents: Agent[];
  /** Clients of the lock service (`role: 'client'`) on nodes 2 and 3 (the majority side below). */
  let replicas: Locks[];
  let stderr: string;

  /** An agent on every node, and two library clients. */
  async function startReplicas(): Promise<void> {
    agents = [1, 2, 3].map((n) => startAgent(cluster, n, GROUP).agent);
    await Promise.all(agents.map((a) => agentReady(a)));
    replicas = await Promise.all(
      [2, 3].map(async (n) => {
        const l = await Locks.open(cluster.member(n), {
          groupName: `${GROUP}.locks`,
          role: 'client',
        });
        await l.machine.ready({ timeout: 10_000 });
        return l;
      }),
    );
  }

  /** `cpgkit ARGS...` as a process on node 1. */
  const cpgkit = (args: string[]) => cpgkitOn(cluster, 1, args);

  beforeEach(async () => {
    cluster = new MemoryCluster({ nodes: 3, seed: 5, realTime: true });
    stderr = '';
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      stderr += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
      return true;
    });
    await startReplicas();
  });

  afterEach(async () => {
    vi.restoreAllMocks();
    for (const l of replicas) await l.close();
    await Promise.all(agents.map((a) => a.stop()));
    cluster.destroy();
  });

  it('runs COMMAND with a fencing token and exits with its code', async () => {
    const { code } = await cpgkit([
      'lock',
      '--group',
      GROUP,
      '--timeout',
      '10',
      'job',
      '--',
      'sh',
      '-c',
      'test -n "$CPGKIT_FENCING_TOKEN" && test "$CPGKIT_LOCK_NAME" = job && exit 7',
    ]);
    expect(code, stderr).toBe(7);
  });

  it('--timeout while another holds the lock: exit 1, says it waited for the lock', async () => {
    const held = await replicas[0]!.acquire('job', { timeout: 5000 });
    const { code, ms } = await cpgkit([
      'lock',
      '--group',
      GROUP,
      '--timeout',
      '1',
      'job',
      '--',
      'true',
    ]);
    expect(code).toBe(EXIT_TIMEOUT);
    expect(stderr).toMatch(/timed out after 1 s waiting for the lock\n/);
    expect(ms).toBeGreaterThanOrEqual(900);
    expect(ms).toBeLessThan(5000);
    await held.release();
  });

  it('--timeout on a node cut off from the majority: exit 1 in about that time, says it waited for quorum/sync', async () => {
    cluster.partition([1], [2, 3]);
    await sleep(100);
    const { code, ms } = await cpgkit([
      'lock',
      '--group',
      GROUP,
      '--timeout',
      '1.5',
      'job',
      '--',
      'true',
    ]);
    expect(code, stderr).toBe(EXIT_TIMEOUT);
    expect(stderr).toMatch(
      /timed out after 1\.5 s waiting for quorum\/sync of group cli-lock-test\.locks/,
    );
    expect(ms).toBeGreaterThanOrEqual(1400);
    expect(ms).toBeLessThan(5000);
    // the majority was not held up: it still grants the lock
    const l = await replicas[1]!.acquire('job', { timeout: 5000 });
    await l.release();
  });

  it('the deadline is for the whole wait: time spent syncing is not given again to the acquire', async () => {
    // node 1 is cut off for 1 s of a 2 s timeout; then it syncs, and the lock is held elsewhere
    const held = await replicas[0]!.acquire('job', { timeout: 5000 });
    cluster.partition([1], [2, 3]);
    setTimeout(() => cluster.heal(), 1000);
    const { code, ms } = await cpgkit([
      'lock',
      '--group',
      GROUP,
      '--timeout',
      '2',
      'job',
      '--',
      'true',
    ]);
    expect(code, stderr).toBe(EXIT_TIMEOUT);
    expect(stderr).toMatch(/timed out after 2 s waiting for the lock/);
    expect(ms).toBeGreaterThanOrEqual(1900);
    expect(ms).toBeLessThan(3500);
    await held.release();
  });
});
