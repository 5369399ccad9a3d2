/**
 * `cpgkit serve`'s agent and its clients on the in-memory cluster in real time: an agent per
 * node, the commands run through `main()` as processes on a node. Health, metrics, status,
 * reconnecting after the node's daemon died, exit codes.
 */
import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MemoryCluster } from '@cpgkit/core/testing';
import type { Agent } from '../src/agent/agent.js';
import { health } from '../src/agent/health.js';
import { agentMetrics, METRIC_NAMES } from '../src/agent/metrics.js';
import { gatherStatus } from '../src/commands/status.js';
import { cliTransport } from '../src/clients.js';
import { main } from '../src/main.js';
import { EXIT_NO_REPLICA, EXIT_OUTCOME_UNKNOWN, EXIT_USAGE } from '../src/exit-codes.js';
import { agentReady, cpgkitOn, startAgent, type LogLines } from './memory-agents.js';

const GROUP = 'cli-serve-test';

describe('cpgkit serve (the agent) and its clients on the in-memory cluster', () => {
  let cluster: MemoryCluster;
  let agents: Agent[];
  let logs: LogLines[];
  let stderr: string;
  let stdout: string;

  beforeEach(async () => {
    cluster = new MemoryCluster({ nodes: 3, seed: 13, realTime: true });
    stderr = '';
    stdout = '';
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      stderr += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
      return true;
    });
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      stdout += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
      return true;
    });
    const started = [1, 2, 3].map((n) => startAgent(cluster, n, GROUP));
    agents = started.map((s) => s.agent);
    logs = started.map((s) => s.log);
    await Promise.all(agents.map((a) => agentReady(a)));
  });

  afterEach(async () => {
    vi.restoreAllMocks();
    await Promise.all(agents.map((a) => a.stop()));
    cluster.destroy();
  });

  it('kv clients: set on node 1, get on node 2 (JSON, and --raw), list on node 3', async () => {
    expect(
      (await cpgkitOn(cluster, 1, ['kv', 'set', '--group', GROUP, 'greeting', 'hello'])).code,
      stderr,
    ).toBe(0);
    expect((await cpgkitOn(cluster, 1, ['kv', 'set', '--group', GROUP, 'n', '42'])).code).toBe(0);
    stdout = '';
    expect((await cpgkitOn(cluster, 2, ['kv', 'get', '--group', GROUP, 'greeting'])).code).toBe(0);
    expect(stdout).toBe('"hello"\n');
    stdout = '';
    await cpgkitOn(cluster, 2, ['kv', 'get', '--raw', '--group', GROUP, 'greeting']);
    expect(stdout).toBe('hello\n');
    stdout = '';
    await cpgkitOn(cluster, 2, ['kv', 'get', '--raw', '--group', GROUP, 'n']);
    expect(stdout).toBe('42\n'); // --raw changes strings only
    stdout = '';
    await cpgkitOn(cluster, 3, ['kv', 'list', '--group', GROUP]);
    expect(stdout).toBe('greeting\t"hello"\nn\t42\n');
    // the clients never joined Q: the three agents are the replicas
    const s = agents[0]!.state;
    expect(s.kind === 'running' && s.replicas.kv.machine.replicas.length).toBe(3);
  });

  it('with no agent of the group, every client exits 4 within its timeout, saying to run cpgkit serve', async () => {
    for (const args of [
      ['lock', '--group', 'other', '--timeout', '0.5', 'x', '--', 'true'],
      ['leader', '--group', 'other', '--timeout', '0.5', 'x', '--', 'true'],
      ['kv', 'get', '--group', 'other', '--timeout', '0.5', 'k'],
      ['kv', 'set', '--group', 'other', '--timeout', '0.5', 'k', 'v'],
    ]) {
      stderr = '';
      const { code, ms } = await cpgkitOn(cluster, 1, args);
      expect(code, `${args.join(' ')}: ${stderr}`).toBe(EXIT_NO_REPLICA);
      expect(stderr).toMatch(/run `cpgkit serve --group other --data DIR` on the nodes/);
      expect(ms).toBeLessThan(3000);
    }
  });

  it('an unknown subcommand exits 2, with --help too', async () => {
    for (const args of [['nosuch'], ['nosuch', '--help'], ['kv', 'nosuch', '--help']]) {
      stderr = '';
      expect((await cpgkitOn(cluster, 1, args)).code, args.join(' ')).toBe(EXIT_USAGE);
      expect(stderr).toMatch(/unknown command/);
    }
    expect((await cpgkitOn(cluster, 1, ['serve', '--help'])).code).toBe(0);
    expect(stdout).toMatch(/Usage: cpgkit serve/);
  });

  it('serve --durability fsync without --data is a usage error (exit 2); --help lists the modes', async () => {
    const { code } = await cpgkitOn(cluster, 1, ['serve', '--group', 'x', '--durability', 'fsync']);
    expect(code, stderr).toBe(EXIT_USAGE);
    expect(stderr).toMatch(/--durability fsync needs --data/);
    stdout = '';
    expect((await cpgkitOn(cluster, 1, ['serve', '--help'])).code).toBe(0);
    expect(stdout).toMatch(/--durability <mode>[\s\S]*"memory", "fsync"/);
  });

  it('a kv set whose process dies right after sending says the outcome is unknown (exit 5), and it was applied', async () => {
    // the client's connection is killed the moment its write has gone out (like its node's
    // corosync dying mid-write): the replicas apply it, the client cannot know that
    const real = cliTransport.open;
    const needle = Buffer.from('"k-unknown"');
    cliTransport.open = () => {
      const t = cluster.member(1);
      const send = t.send.bind(t);
      t.send = (data, o) => {
        const p = send(data, o);
        const parts = data instanceof Uint8Array ? [data] : data;
        if (parts.some((d) => Buffer.from(d).includes(needle)))
          void p.then(() => cluster.crashProcess(t));
        return p;
      };
      return t;
    };
    let code: number;
    try {
      code = await main(['kv', 'set', '--group', GROUP, '--timeout', '2', 'k-unknown', 'v']);
    } finally {
      cliTransport.open = real;
    }
    expect(code, stderr).toBe(EXIT_OUTCOME_UNKNOWN);
    expect(stderr).toMatch(/WriteOutcomeUnknownError: .*outcome unknown: it may have been applied/);
    stdout = '';
    expect((await cpgkitOn(cluster, 2, ['kv', 'get', '--group', GROUP, 'k-unknown'])).code).toBe(0);
    expect(stdout).toBe('"v"\n');
  });

  it('/healthz: ok when ready; the reason when in a minority, when the daemon is gone; ok again after reconnecting', async () => {
    expect(health(agents[0]!.state)).toEqual({ ok: true, reason: 'ok' });
    cluster.partition([1], [2, 3]);
    await until(() => !health(agents[0]!.state).ok);
    expect(health(agents[0]!.state).reason).toMatch(/minority/);
    cluster.heal();
    await agentReady(agents[0]!);
    cluster.crashNode(1);
    await until(() => agents[0]!.state.kind === 'connecting');
    expect(health(agents[0]!.state).reason).toMatch(/not connected to corosync/);
    cluster.restartNode(1);
    await agentReady(agents[0]!);
    expect(health(agents[0]!.state).ok).toBe(true);
    expect(agents[0]!.reconnects).toBe(1);
    // it came back as the same replica: Q did not grow
    const s = agents[1]!.state;
    expect(s.kind === 'running' && s.replicas.kv.machine.replicas.length).toBe(3);
    const lines = logs[0]!.lines.map((l) => JSON.parse(l) as { event?: string });
    expect(lines.some((l) => l.event === 'connection-lost')).toBe(true);
  });

  it('/metrics: Prometheus text that counts what happened', async () => {
    const registry = agentMetrics(agents[1]!);
    // the registry wires itself at the next connection: reconnect node 2's agent
    cluster.crashNode(2);
    cluster.restartNode(2);
    await until(() => agents[1]!.reconnects === 1);
    await agentReady(agents[1]!);
    for (let i = 0; i < 3; i++)
      expect(
        (await cpgkitOn(cluster, 3, ['kv', 'set', '--group', GROUP, `k${i}`, `${i}`])).code,
      ).toBe(0);
    const text = await registry.metrics();
    expect(text).toMatch(/^cpgkit_commands_applied_total\{machine="store",result="ok"\} 3$/m);
    expect(text).toMatch(/^cpgkit_store_keys 3$/m);
    expect(text).toMatch(/^cpgkit_ready\{machine="locks"\} 1$/m);
    expect(text).toMatch(/^cpgkit_reconnects_total 1$/m);
    expect(text).toMatch(/^cpgkit_command_latency_seconds_count\{machine="store"\} 3$/m);
    expect(text).toMatch(/^# TYPE cpgkit_sync_duration_seconds histogram$/m);
    // the documented list is the registry's list, and the README names each
    const registered = [...text.matchAll(/^# TYPE (cpgkit_\w+) /gm)].map((m) => m[1]);
    expect(registered.sort()).toEqual([...METRIC_NAMES].sort());
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    for (const name of METRIC_NAMES) expect(readme, name).toContain(`\`${name}`);
  });

  it('status: every agent, Q with its majority, digests agree, locks and leaders', async () => {
    const real = cliTransport.open;
    cliTransport.open = () => cluster.member(2);
    try {
      const s = await gatherStatus(GROUP, 2);
      expect(s.problems).toEqual([]);
      expect(s.agents.map((a) => a.nodeid)).toEqual([1, 2, 3]);
      expect(s.store.replicaSet).toHaveLength(3);
      expect(s.store.present).toBe(3);
      expect(s.locks.majority).toBe(true);
      expect(s.store.digestsAgree && s.locks.digestsAgree).toBe(true);
      cluster.partition([2], [1, 3]);
      await until(
        () =>
          agents[1]!.state.kind === 'running' && agents[1]!.state.replicas.kv.status === 'minority',
      );
      const cut = await gatherStatus(GROUP, 1);
      expect(cut.problems.join('\n')).toMatch(/no majority/);
    } finally {
      cliTransport.open = real;
    }
  });

  it('stop retires the replicas from Q: the other two keep going with a Q of two', async () => {
    await agents[0]!.stop();
    const s = agents[1]!.state;
    expect(s.kind).toBe('running');
    if (s.kind !== 'running') return;
    expect(s.replicas.kv.machine.replicas).toHaveLength(2);
    expect(s.replicas.locks.replicas).toHaveLength(2);
    expect(
      (await cpgkitOn(cluster, 2, ['kv', 'set', '--group', GROUP, 'a', '1'])).code,
      stderr,
    ).toBe(0);
  });
});

async function until(predicate: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!predicate()) {
    if (performance.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}
