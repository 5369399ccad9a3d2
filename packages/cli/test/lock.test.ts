/**
 * `cpgkit lock` run through `main()` on the in-memory cluster in real time (`cliTransport`
 * points the command at it instead of corosync): exit codes, the token in COMMAND's
 * environment, and `--timeout` bounding the wait for quorum/sync as well as the grant.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { GroupTransport } from '@cpgkit/core';
import { MemoryCluster } from '@cpgkit/core/testing';
import { ReplicatedStateMachine } from '@cpgkit/statemachine';
import { Locks, locksMachine } from '@cpgkit/locks';
import { main } from '../src/main.js';
import { cliTransport, EXIT_TIMEOUT } from '../src/commands/lock.js';

const GROUP = 'cli-lock-test';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('cpgkit lock on the in-memory cluster', () => {
  let cluster: MemoryCluster;
  let replicas: Locks[];
  let stderr: string;
  const realOpen = cliTransport.open;

  /** Long-lived replicas of the lock state on nodes 2 and 3 (the majority side below). */
  async function startReplicas(): Promise<void> {
    replicas = await Promise.all(
      [2, 3].map(async (n) => {
        const m = await ReplicatedStateMachine.open(cluster.transport(n), locksMachine(), {
          groupName: GROUP,
        });
        await m.ready({ timeout: 10_000 });
        return new Locks(m, { closeMachine: true });
      }),
    );
  }

  /** `cpgkit ARGS...` as a process on node 1; resolves with the exit code and the time it took. */
  async function cpgkit(args: string[]): Promise<{ code: number; ms: number }> {
    cliTransport.open = (): GroupTransport => cluster.transport(1);
    const t0 = performance.now();
    const code = await main(args);
    return { code, ms: performance.now() - t0 };
  }

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
    cliTransport.open = realOpen;
    for (const l of replicas) await l.close();
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
      /timed out after 1\.5 s waiting for quorum\/sync of group cli-lock-test/,
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
