/**
 * The replicated config store on three real corosync nodes, driven as users drive it: one
 * `cpgkit kv serve` replica per node (inside the node's network namespace, with its own data
 * directory) and one-shot `cpgkit kv get/set/delete/list/watch` commands on any node.
 *
 * To prove what one particular replica holds (and not what some other replica sent a one-shot
 * client), the tests stop the other replicas first: a one-shot member never holds state of its
 * own, so whatever it prints then came from the remaining replica.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { requireCluster } from '../harness/availability.js';
import { buildCli, cliPath, spawnCli, until, type CliProcess } from '../harness/cli.js';
import { execOnNode, type ScriptResult } from '../harness/cluster.js';
import { RealCluster } from '../harness/real-cluster.js';

const env = requireCluster();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A one-shot `cpgkit kv ...` on node N; resolves when it exited. */
function kv(node: number, args: string[]): Promise<ScriptResult> {
  return execOnNode(node, [process.execPath, cliPath, 'kv', ...args], { timeoutMs: 60_000 });
}

function unique(what: string): string {
  return `kv-${what}-${process.pid}-${Math.floor(Math.random() * 1e9).toString(36)}`;
}

describe('cpgkit kv on the real 3-node cluster', () => {
  const dataRoot = mkdtempSync(join(tmpdir(), 'cpgkit-kv-cluster-'));
  const servers = new Set<CliProcess>();
  let fx: RealCluster | undefined;

  /** Start `kv serve` on node N with data dir `<group>/nN`; resolves once it reports `until`. */
  async function serve(
    node: number,
    group: string,
    until_ = /store status ready/,
    extra: string[] = [],
  ): Promise<CliProcess> {
    const r = spawnCli(env!, node, [
      'kv',
      'serve',
      '--group',
      group,
      '--data',
      join(dataRoot, group, `n${node}`),
      ...extra,
    ]);
    servers.add(r);
    void r.exited.then(() => servers.delete(r));
    await until(
      `kv serve on node ${node} to report ${String(until_)}`,
      () => until_.test(r.stderr()) || r.child.exitCode !== null,
    );
    expect(r.child.exitCode, r.stderr()).toBeNull();
    return r;
  }

  /**
   * Start a new group's replicas on nodes 1, 2 and 3 together, as at a cluster's first boot: a
   * new store starts once a replica runs on every node (each waits for the others).
   */
  function serveAll(group: string): Promise<CliProcess[]> {
    return Promise.all([1, 2, 3].map((n) => serve(n, group)));
  }

  /** SIGTERM a server; it must exit 0 (after writing its snapshot). */
  async function stop(r: CliProcess): Promise<void> {
    r.child.kill('SIGTERM');
    expect(await r.exited, r.stderr()).toBe(0);
    expect(r.stderr()).toMatch(/stopped at revision/);
  }

  async function get(node: number, group: string, key: string): Promise<unknown> {
    const r = await kv(node, ['get', '--group', group, key]);
    expect(r.code, `kv get ${key} on node ${node}: ${r.stderr}`).toBe(0);
    return JSON.parse(r.stdout) as unknown;
  }

  async function set(node: number, group: string, key: string, value: string): Promise<void> {
    const r = await kv(node, ['set', '--group', group, key, value]);
    expect(r.code, `kv set ${key} on node ${node}: ${r.stderr}`).toBe(0);
  }

  beforeAll(async () => {
    if (!env) return;
    await buildCli(); // the bin runs dist/: build what changed (incremental)
  }, 300_000);

  afterAll(() => rmSync(dataRoot, { recursive: true, force: true }));

  afterEach(async () => {
    for (const r of [...servers]) {
      r.child.kill('SIGKILL');
      await r.exited;
    }
    await fx?.close();
    fx = undefined;
  });

  it('a one-shot command with no replica running exits non-zero and says so (no empty store)', async () => {
    const group = unique('none');
    const t0 = performance.now();
    const r = await kv(2, ['get', '--group', group, '--timeout', '2', 'anything']);
    expect(r.code).toBe(4); // EXIT_NO_REPLICA
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/NoAgentError: no replica of group .* is reachable/);
    expect(r.stderr).toMatch(/cpgkit serve --group/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(performance.now() - t0).toBeGreaterThan(1900);
    const w = await kv(1, ['set', '--group', group, '--timeout', '1', 'k', 'v']);
    expect(w.code).toBe(4);
    expect(w.stderr).toMatch(/no replica of group .*nothing was applied/);
    // and nothing was started by either: a real replica (alone: --bootstrap-alone) starts from
    // the initial state
    const s = await serve(3, group, undefined, ['--bootstrap-alone']);
    const l = await kv(1, ['list', '--group', group, '--json']);
    expect(l.code, l.stderr).toBe(0);
    expect(JSON.parse(l.stdout)).toEqual([]);
    await stop(s);
  });

  it('replication: set on node 1, get on nodes 2 and 3; list, delete, watch across nodes', async () => {
    const group = unique('repl');
    await serveAll(group);
    await set(1, group, 'db/url', 'postgres://db1');
    await set(1, group, 'db/pool', '{"max":10}');
    await set(1, group, 'flag', 'true');
    expect(await get(2, group, 'db/url')).toBe('postgres://db1');
    expect(await get(3, group, 'db/pool')).toEqual({ max: 10 });
    expect(await get(3, group, 'flag')).toBe(true);

    const absent = await kv(2, ['get', '--group', group, 'nope']);
    expect(absent.code).toBe(1);
    expect(absent.stdout).toBe('');
    expect(absent.stderr).toMatch(/not set/);

    const list = await kv(3, ['list', '--group', group, 'db/', '--json']);
    expect(list.code, list.stderr).toBe(0);
    const items = JSON.parse(list.stdout) as { key: string; value: unknown; revision: number }[];
    expect(items.map((i) => [i.key, i.value])).toEqual([
      ['db/pool', { max: 10 }],
      ['db/url', 'postgres://db1'],
    ]);
    const text = await kv(2, ['list', '--group', group]);
    expect(text.stdout).toBe('db/pool\t{"max":10}\ndb/url\t"postgres://db1"\nflag\ttrue\n');

    // watch on node 2 sees writes made on node 3, as JSON lines
    const watch = spawnCli(env!, 2, ['kv', 'watch', '--group', group, 'db/']);
    await until('kv watch to start', () => /watching group/.test(watch.stderr()));
    await set(3, group, 'db/url', 'postgres://db2');
    await set(3, group, 'other', '1'); // not under the prefix
    const del = await kv(1, ['delete', '--group', group, 'db/pool']);
    expect(del.code, del.stderr).toBe(0);
    await until('two watch lines', () => watch.stdoutLines.length >= 2);
    await sleep(300);
    const changes = watch.stdoutLines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(changes.map((c) => [c.type, c.key, c.value])).toEqual([
      ['set', 'db/url', 'postgres://db2'],
      ['delete', 'db/pool', undefined],
    ]);
    expect(changes[1]!.revision).toBeGreaterThan(changes[0]!.revision as number);
    watch.child.kill('SIGINT');
    expect(await watch.exited).toBe(0);
    expect((await kv(3, ['get', '--group', group, 'db/pool'])).code).toBe(1);
  });

  it('catch-up: a replica killed with -9 and restarted on its data dir gets what it missed', async () => {
    const group = unique('catchup');
    const [s1, s2, s3] = (await serveAll(group)) as [CliProcess, CliProcess, CliProcess];
    await set(1, group, 'a', '1');
    await set(2, group, 'b', '2');
    await sleep(200); // let node 2's replica persist (at most every 50 ms)
    s2.child.kill('SIGKILL');
    expect(await s2.exited).not.toBe(0);
    await set(1, group, 'c', '3');
    await set(3, group, 'a', '10');
    const d = await kv(3, ['delete', '--group', group, 'b']);
    expect(d.code, d.stderr).toBe(0);
    const s2b = await serve(2, group);
    expect(s2b.stderr()).toMatch(/revision 2\b/); // it restored what it had persisted
    // only node 2's replica is left: whatever a one-shot client reads comes from it
    await stop(s1);
    await stop(s3);
    expect(await get(1, group, 'a')).toBe(10);
    expect(await get(3, group, 'c')).toBe(3);
    expect((await kv(2, ['get', '--group', group, 'b'])).code).toBe(1);
    await stop(s2b);
  });

  it('no quorum: a write on an isolated node exits non-zero saying quorum, reads work; after heal it has the majority writes', async () => {
    fx = await RealCluster.open();
    const group = unique('quorum');
    const servers = new Map<number, CliProcess>();
    for (const [i, s] of (await serveAll(group)).entries()) servers.set(i + 1, s);
    await set(1, group, 'before', '"x"');
    await fx.partition([3], [1, 2]);
    await until('node 3 replica to see the minority', () =>
      /store status minority/.test(servers.get(3)!.stderr()),
    );

    const w = await kv(3, ['set', '--group', group, 'k', 'v']);
    expect(w.code).toBe(7); // EXIT_NO_QUORUM
    expect(w.stderr).toMatch(/quorum/i);
    expect(w.stderr.trim().split('\n')).toHaveLength(1);
    const del = await kv(3, ['delete', '--group', group, 'before']);
    expect(del.code).toBe(7);
    expect(del.stderr).toMatch(/quorum/i);
    // a linearizable read (the default) is refused there too (exit 7), with a hint
    const lin = await kv(3, ['get', '--group', group, 'before']);
    expect(lin.code).toBe(7); // EXIT_NO_QUORUM
    expect(lin.stderr).toMatch(/--stale/);
    // --stale reads still work on the minority side (from node 3's replica), marked stale
    const r = await kv(3, ['get', '--group', group, '--stale', 'before']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toBe('x');
    expect(r.stderr).toMatch(/stale/);

    // the majority goes on
    await set(1, group, 'during', '42');
    await set(2, group, 'before', '"y"');
    expect(await get(2, group, 'during')).toBe(42);

    await fx.heal();
    await until('node 3 replica to be ready again', () => {
      const log = servers.get(3)!.stderr();
      return log.lastIndexOf('store status ready') > log.lastIndexOf('store status minority');
    });
    // only node 3's replica is left: it merged the majority's writes
    await stop(servers.get(1)!);
    await stop(servers.get(2)!);
    expect(await get(1, group, 'during')).toBe(42);
    expect(await get(2, group, 'before')).toBe('y');
    expect((await kv(3, ['get', '--group', group, 'k'])).code).toBe(1); // the refused write
    await set(3, group, 'after', 'ok'); // node 3 is quorate again
    expect(await get(1, group, 'after')).toBe('ok');
    await stop(servers.get(3)!);
  });

  it('persistence: stop all three replicas, start them on the same data dirs, the data is there', async () => {
    const group = unique('persist');
    const first = [];
    first.push(...(await serveAll(group)));
    for (let i = 0; i < 20; i++) await set(1 + (i % 3), group, `key${i}`, String(i));
    const del = await kv(2, ['delete', '--group', group, 'key7']);
    expect(del.code, del.stderr).toBe(0);
    for (const s of first) await stop(s);
    expect((await kv(1, ['get', '--group', group, '--timeout', '1', 'key1'])).code).toBe(4);

    const again = [];
    for (const n of [3, 1, 2]) again.push(await serve(n, group));
    for (const s of again) expect(s.stderr()).toMatch(/revision 21\b/);
    const list = await kv(2, ['list', '--group', group, '--json']);
    expect(list.code, list.stderr).toBe(0);
    const items = JSON.parse(list.stdout) as { key: string; value: unknown }[];
    expect(items).toHaveLength(19);
    expect(items.find((i) => i.key === 'key7')).toBeUndefined();
    expect(items.find((i) => i.key === 'key19')?.value).toBe(19);
    await set(3, group, 'key20', '20');
    expect(await get(1, group, 'key20')).toBe(20);
    // about 30 CLI processes and 6 serves in turn: 40 s idle, past 120 s beside stress-ng --cpu 2
  }, 360_000);

  it('full restart, the stale replica first: it refuses writes alone, then the newest state wins', async () => {
    const group = unique('stalefirst');
    const [s1, s2, s3] = (await serveAll(group)) as [CliProcess, CliProcess, CliProcess];
    await set(1, group, 'a', '1');
    s3.child.kill('SIGKILL'); // node 3's replica crashes: it misses what follows
    await s3.exited;
    await set(2, group, 'b', '2');
    await set(1, group, 'a', '11');
    await stop(s1);
    await stop(s2);

    // node 3's replica comes back first, alone, with an older state: it must not go on from it
    const t3 = await serve(3, group, /store status (minority|syncing)/);
    await sleep(3000);
    expect(t3.stderr()).not.toMatch(/store status ready/);
    const w = await kv(3, ['set', '--group', group, 'c', '3']);
    expect(w.code).not.toBe(0);
    expect(w.stderr).toMatch(/quorum/i);

    // a replica with the newest state returns: everyone has it, writes go on
    const t2 = await serve(2, group);
    await until('node 3 replica to be ready', () => /store status ready/.test(t3.stderr()));
    expect(await get(3, group, 'b')).toBe(2);
    expect(await get(1, group, 'a')).toBe(11);
    await set(3, group, 'c', '3');
    await stop(t2);
    // only node 3's replica is left: it holds the newest state plus c
    expect(await get(1, group, 'b')).toBe(2);
    expect(await get(2, group, 'c')).toBe(3);
    await stop(t3);
  });
});
