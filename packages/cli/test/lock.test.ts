/**
 * `cpgkit lock` run through `main()` on the in-memory cluster in real time (`cliTransport`
 * points the command at it instead of corosync), with an agent (`cpgkit serve`) on every node:
 * flock's flags (-n, -s, -w, -E, -c, COMMAND without --), exit codes (the child's, 128 + its
 * signal's number, 1 busy, 6 timeout, 7 no quorum), the token in COMMAND's environment.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MemoryCluster } from '@cpgkit/core/testing';
import { Locks } from '@cpgkit/locks';
import type { Agent } from '../src/agent/agent.js';
import { EXIT_CONDITION, EXIT_NO_QUORUM, EXIT_TIMEOUT } from '../src/exit-codes.js';
import { agentReady, cpgkitOn, startAgent } from './memory-agents.js';

const GROUP = 'cli-lock-test';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('cpgkit lock on the in-memory cluster', () => {
  let cluster: MemoryCluster;
  let agents: Agent[];
  /** Clients of the lock service (`role: 'client'`) on nodes 2 and 3 (the majority side below). */
  let others: Locks[];
  let stderr: string;

  /** An agent on every node, and two library clients. */
  async function startReplicas(): Promise<void> {
    agents = [1, 2, 3].map((n) => startAgent(cluster, n, GROUP).agent);
    await Promise.all(agents.map((a) => agentReady(a)));
    others = await Promise.all(
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
  /** `cpgkit lock` holds the write side of the read-write lock NAME. */
  const holdElsewhere = (name: string) => others[0]!.rwlock(name).write({ timeout: 5000 });

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
    for (const l of others) await l.close();
    await Promise.all(agents.map((a) => a.stop()));
    cluster.destroy();
  });

  it('runs COMMAND (the arguments after NAME, no -- needed) with a fencing token and exits with its code', async () => {
    const { code } = await cpgkit([
      'lock',
      '--group',
      GROUP,
      'job',
      'sh',
      '-c',
      'test -n "$CPGKIT_FENCING_TOKEN" && test "$CPGKIT_LOCK_NAME" = job && exit 7',
    ]);
    expect(code, stderr).toBe(7);
    // with --, and with -c "command" (before or after NAME), as flock takes them
    expect((await cpgkit(['lock', '--group', GROUP, 'job', '--', 'sh', '-c', 'exit 3'])).code).toBe(
      3,
    );
    expect((await cpgkit(['lock', '--group', GROUP, '-c', 'exit 4', 'job'])).code).toBe(4);
    expect((await cpgkit(['lock', '--group', GROUP, 'job', '-c', 'exit 5'])).code).toBe(5);
  });

  it('a COMMAND killed by a signal exits 128 + its number, as a shell does (SIGSEGV 139, SIGUSR1 138)', async () => {
    const segv = await cpgkit(['lock', '--group', GROUP, 'job', '-c', 'kill -SEGV $$']);
    expect(segv.code, stderr).toBe(139);
    const usr1 = await cpgkit(['lock', '--group', GROUP, 'job', '-c', 'kill -USR1 $$']);
    expect(usr1.code).toBe(138);
  });

  it("-w while another holds the lock: exit 6 after about that long, or -E's code", async () => {
    const held = await holdElsewhere('job');
    const { code, ms } = await cpgkit(['lock', '--group', GROUP, '-w', '1s', 'job', 'true']);
    expect(code, stderr).toBe(EXIT_TIMEOUT);
    expect(stderr).toMatch(/TimeoutError: lock 'job': timed out after 1 s waiting for the lock\n/);
    expect(ms).toBeGreaterThanOrEqual(900);
    expect(ms).toBeLessThan(5000);
    // a bare number is seconds, as before; -E replaces the code
    const e = await cpgkit([
      'lock',
      '--group',
      GROUP,
      '--timeout',
      '0.5',
      '-E',
      '42',
      'job',
      'true',
    ]);
    expect(e.code).toBe(42);
    await held.release();
  });

  it("-n: exit 1 at once when the lock is busy (or -E's code), and takes it when free", async () => {
    const held = await holdElsewhere('job');
    const busy = await cpgkit(['lock', '--group', GROUP, '-n', 'job', 'true']);
    expect(busy.code, stderr).toBe(EXIT_CONDITION);
    expect(stderr).toMatch(/LockBusyError: lock 'job' is busy/);
    expect((await cpgkit(['lock', '--group', GROUP, '-n', '-E', '9', 'job', 'true'])).code).toBe(9);
    await held.release();
    expect((await cpgkit(['lock', '--group', GROUP, '-n', 'job', 'true'])).code).toBe(0);
  });

  it('-s takes a read share: it runs next to other readers, not next to a writer', async () => {
    const reader = await others[0]!.rwlock('cfg').read({ timeout: 5000 });
    expect((await cpgkit(['lock', '--group', GROUP, '-s', '-n', 'cfg', 'true'])).code, stderr).toBe(
      0,
    );
    expect((await cpgkit(['lock', '--group', GROUP, '-n', 'cfg', 'true'])).code).toBe(
      EXIT_CONDITION,
    );
    await reader.release();
    const writer = await others[1]!.rwlock('cfg').write({ timeout: 5000 });
    expect((await cpgkit(['lock', '--group', GROUP, '-s', '-n', 'cfg', 'true'])).code).toBe(
      EXIT_CONDITION,
    );
    await writer.release();
  });

  it('on a node cut off from the majority: exit 7 (no quorum) at once, not after -w', async () => {
    cluster.partition([1], [2, 3]);
    await sleep(200);
    const { code, ms } = await cpgkit(['lock', '--group', GROUP, '-w', '20s', 'job', 'true']);
    expect(code, stderr).toBe(EXIT_NO_QUORUM);
    expect(stderr).toMatch(/NoQuorumError: lock 'job': no quorum here/);
    expect(ms).toBeLessThan(10_000);
    // the majority was not held up: it still grants the lock
    const l = await others[1]!.rwlock('job').write({ timeout: 5000 });
    await l.release();
  });
});
