/**
 * The CLI's operator habits (issue 17) on the in-memory cluster with an agent per node: the
 * exit-code table in every --help, commander's usage errors exit 2, durations with units,
 * CPGKIT_* environment defaults, JSON errors in JSON modes, `kv set -w json`, linearizable
 * `kv get`/`kv list` by default (`--stale` in a minority), and `snapshot save`/`restore`.
 */
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { MemoryCluster } from '@cpgkit/core/testing';
import type { Agent } from '../src/agent/agent.js';
import { signalExitCode } from '../src/child.js';
import { parseDuration } from '../src/durations.js';
import {
  EXIT_CODE_TABLE,
  EXIT_CONDITION,
  EXIT_NO_QUORUM,
  EXIT_NO_REPLICA,
  EXIT_USAGE,
} from '../src/exit-codes.js';
import { main } from '../src/main.js';
import { agentReady, cpgkitOn, startAgent } from './memory-agents.js';

let stdout = '';
let stderr = '';
function capture(): void {
  stdout = '';
  stderr = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stdout += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
    return true;
  });
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stderr += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
    return true;
  });
}

describe('parsing: durations, signals, usage, help', () => {
  beforeEach(capture);
  afterEach(() => vi.restoreAllMocks());

  it('durations take ms, s, m, h; a bare number keeps the unit of its flag', () => {
    expect(parseDuration('500ms', 's')).toBe(500);
    expect(parseDuration('5s', 'ms')).toBe(5000);
    expect(parseDuration('2m', 's')).toBe(120_000);
    expect(parseDuration('1h', 's')).toBe(3_600_000);
    expect(parseDuration('1.5', 's')).toBe(1500);
    expect(parseDuration('250', 'ms')).toBe(250);
    for (const bad of ['', '5 x', '-1s', 'ms', '5d', 'abc'])
      expect(parseDuration(bad, 's')).toBe(undefined);
  });

  it('signals give 128 + their number (os.constants.signals)', () => {
    expect(signalExitCode('SIGSEGV')).toBe(139);
    expect(signalExitCode('SIGTERM')).toBe(143);
    expect(signalExitCode('SIGUSR2')).toBe(140);
  });

  it("every command's --help ends with the exit-code table", async () => {
    for (const args of [
      [],
      ['lock'],
      ['kv', 'get'],
      ['snapshot', 'restore'],
      ['status'],
      ['send'],
    ]) {
      stdout = '';
      expect(await main([...args, '--help'])).toBe(0);
      for (const [code, text] of EXIT_CODE_TABLE)
        expect(stdout, args.join(' ')).toContain(`${code}  ${text}`);
    }
  });

  it("commander's usage errors exit 2 (unknown option, missing argument, bad duration, bad choice); in JSON mode as JSON", async () => {
    for (const args of [
      ['kv', 'get', '--group', 'g', '--bogus', 'k'],
      ['kv', 'get', '--group', 'g'],
      ['lock', '--group', 'g', '-w', 'soon', 'x', 'true'],
      ['kv', 'set', '--group', 'g', '-w', 'yaml', 'k', 'v'],
      ['lock', '--group', 'g', 'x'],
      ['lock', '--group', 'g', '-n', '-w', '1', 'x', 'true'],
    ]) {
      expect(await main(args), args.join(' ')).toBe(EXIT_USAGE);
    }
    stderr = '';
    expect(await main(['kv', 'list', '--group', 'g', '--json', '--bogus'])).toBe(EXIT_USAGE);
    const e = JSON.parse(stderr.trim()) as { error: Record<string, unknown> };
    expect(e.error).toMatchObject({ name: 'UsageError', code: 'CPGKIT_USAGE', exitCode: 2 });
    expect(e.error.message).toMatch(/unknown option '--bogus'/);
  });

  it('--group comes from CPGKIT_GROUP when not given (a missing one is a usage error)', async () => {
    delete process.env.CPGKIT_GROUP;
    expect(await main(['kv', 'get', 'k'])).toBe(EXIT_USAGE);
    expect(stderr).toMatch(/--group/);
  });
});

describe('store commands with an agent on every node', () => {
  const GROUP = 'cli-habits';
  let cluster: MemoryCluster;
  let agents: Agent[];
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cpgkit-habits-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  beforeEach(async () => {
    capture();
    cluster = new MemoryCluster({ nodes: 3, seed: 17, realTime: true });
    agents = [1, 2, 3].map((n) => startAgent(cluster, n, GROUP).agent);
    await Promise.all(agents.map((a) => agentReady(a)));
  });
  afterEach(async () => {
    vi.restoreAllMocks();
    delete process.env.CPGKIT_GROUP;
    delete process.env.CPGKIT_TIMEOUT;
    await Promise.all(agents.map((a) => a.stop()));
    cluster.destroy();
  });

  const run = async (n: number, args: string[]) => {
    stdout = '';
    stderr = '';
    return (await cpgkitOn(cluster, n, args)).code;
  };

  it('kv watch prints changes as its copy applies them, and exits 8 (never silently 0) when its connection closes', async () => {
    stdout = '';
    stderr = '';
    const watching = cpgkitOn(cluster, 2, ['kv', 'watch', '--group', GROUP, 'w/']);
    const until = async (pred: () => boolean, what: string): Promise<void> => {
      const deadline = performance.now() + 30_000;
      while (!pred()) {
        if (performance.now() > deadline) throw new Error(`${what}; stderr: ${stderr}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    await until(() => stderr.includes('watching group'), 'the watch did not start');
    expect((await cpgkitOn(cluster, 1, ['kv', 'set', '--group', GROUP, 'w/a', '1'])).code).toBe(0);
    await until(() => stdout.includes('"key":"w/a"'), 'no change printed');
    expect(JSON.parse(stdout.trim().split('\n').at(-1)!)).toEqual({
      type: 'set',
      key: 'w/a',
      value: 1,
      revision: 1,
    });
    // node 2's corosync dies: the watch's connection closes under it
    cluster.crashNode(2);
    const { code } = await watching;
    expect(code).toBe(8);
    expect(stderr).toMatch(/MachineClosedError: the watch of group cli-habits ended/);
    cluster.restartNode(2);
    await agentReady(agents[1]!);
  });

  it('kv set/delete -w json print the revision on stdout; get -w json the entry; CPGKIT_GROUP is the default group', async () => {
    process.env.CPGKIT_GROUP = GROUP;
    expect(await run(1, ['kv', 'set', '-w', 'json', 'a', '{"x":1}']), stderr).toBe(0);
    const set = JSON.parse(stdout) as { key: string; revision: number };
    expect(set).toEqual({ key: 'a', revision: expect.any(Number) as number });
    expect(await run(2, ['kv', 'get', '-w', 'json', 'a'])).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({
      key: 'a',
      value: { x: 1 },
      revision: set.revision,
      version: 1,
    });
    expect(await run(3, ['kv', 'delete', '--write-out', 'json', 'a'])).toBe(0);
    const del = JSON.parse(stdout) as { revision: number };
    expect(del.revision).toBeGreaterThan(set.revision);
    // a missing key: exit 1, and in JSON mode the error is JSON
    expect(await run(2, ['kv', 'get', '-w', 'json', 'a'])).toBe(EXIT_CONDITION);
    expect(stdout).toBe('');
    expect(JSON.parse(stderr)).toEqual({
      error: {
        name: 'KeyNotSetError',
        code: 'CPGKIT_KEY_NOT_SET',
        outcome: 'not-applied',
        message: `key 'a' is not set in group ${GROUP}`,
        exitCode: 1,
      },
    });
    // without -w json, a line
    expect(await run(2, ['kv', 'get', 'a'])).toBe(EXIT_CONDITION);
    expect(stderr).toBe(`cpgkit: KeyNotSetError: key 'a' is not set in group ${GROUP}\n`);
  });

  it('no replica in JSON mode: exit 4 with a JSON error; CPGKIT_TIMEOUT bounds the wait', async () => {
    process.env.CPGKIT_TIMEOUT = '300ms';
    const t0 = performance.now();
    expect(await run(1, ['kv', 'list', '--group', 'nobody-serves-this', '--json'])).toBe(
      EXIT_NO_REPLICA,
    );
    expect(performance.now() - t0).toBeLessThan(5000);
    const e = JSON.parse(stderr) as { error: Record<string, unknown> };
    expect(e.error).toMatchObject({
      name: 'NoAgentError',
      code: 'CPGKIT_NO_AGENT',
      outcome: 'not-applied',
      exitCode: 4,
    });
  });

  it('kv get and list are linearizable by default: in a minority they exit 7 with a hint; --stale and --consistency s read the local copy', async () => {
    expect(await run(1, ['kv', 'set', '--group', GROUP, 'k', '1'])).toBe(0);
    expect(await run(1, ['kv', 'get', '--group', GROUP, 'k'])).toBe(0);
    expect(stdout).toBe('1\n');
    cluster.partition([1], [2, 3]);
    await new Promise((r) => setTimeout(r, 200));
    for (const args of [
      ['kv', 'get', '--group', GROUP, 'k'],
      ['kv', 'list', '--group', GROUP],
      ['kv', 'get', '--group', GROUP, '--consistency', 'l', 'k'],
    ]) {
      expect(await run(1, args), args.join(' ')).toBe(EXIT_NO_QUORUM);
      expect(stderr).toMatch(/NoQuorumError: no quorum: .*--stale/);
      expect(stdout).toBe('');
    }
    expect(await run(1, ['kv', 'get', '--group', GROUP, '--stale', 'k'])).toBe(0);
    expect(stdout).toBe('1\n');
    expect(stderr).toMatch(/warning: .*may be stale/);
    expect(await run(1, ['kv', 'list', '--group', GROUP, '--consistency', 's'])).toBe(0);
    expect(stdout).toBe('k\t1\n');
    // a write in the minority: exit 7 too
    expect(await run(1, ['kv', 'set', '--group', GROUP, 'k', '2'])).toBe(EXIT_NO_QUORUM);
    // the majority reads linearizably
    expect(await run(2, ['kv', 'get', '--group', GROUP, 'k'])).toBe(0);
    expect(stdout).toBe('1\n');
  });

  it('snapshot save and restore: refused into a store with keys unless --force; --force replaces it', async () => {
    for (const [k, v] of [
      ['app/a', '1'],
      ['app/b', '{"deep":[1,2]}'],
      ['c', 'text'],
    ])
      expect(await run(1, ['kv', 'set', '--group', GROUP, k!, v!])).toBe(0);
    const file = join(dir, 'backup.json');
    expect(await run(2, ['snapshot', 'save', '--group', GROUP, file]), stderr).toBe(0);
    expect(stderr).toMatch(/saved 3 keys/);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const snap = JSON.parse(await readFile(file, 'utf8')) as { entries: { key: string }[] };
    expect(snap.entries.map((e) => e.key)).toEqual(['app/a', 'app/b', 'c']);
    // the store holds keys: refused, nothing written
    expect(await run(3, ['kv', 'set', '--group', GROUP, 'app/a', '99'])).toBe(0);
    expect(await run(3, ['kv', 'set', '--group', GROUP, 'extra', 'x'])).toBe(0);
    expect(await run(3, ['snapshot', 'restore', '--group', GROUP, file])).toBe(EXIT_CONDITION);
    expect(stderr).toMatch(/StoreNotEmptyError: .*holds 4 keys.*--force/);
    expect(await run(1, ['kv', 'get', '--group', GROUP, 'app/a'])).toBe(0);
    expect(stdout).toBe('99\n');
    // --force: the store is the snapshot again
    expect(await run(3, ['snapshot', 'restore', '--group', GROUP, '--force', file]), stderr).toBe(
      0,
    );
    expect(stderr).toMatch(/restored 3 keys and deleted 1/);
    expect(await run(1, ['kv', 'list', '--group', GROUP, '--json'])).toBe(0);
    expect(
      (JSON.parse(stdout) as { key: string; value: unknown }[]).map(({ key, value }) => ({
        key,
        value,
      })),
    ).toEqual([
      { key: 'app/a', value: 1 },
      { key: 'app/b', value: { deep: [1, 2] } },
      { key: 'c', value: 'text' },
    ]);
  });

  it('snapshot restore into an empty store; a file that is not a snapshot is a usage error', async () => {
    const file = join(dir, 'other.json');
    await writeFile(
      file,
      JSON.stringify({
        cpgkit: 'kv-snapshot',
        v: 1,
        group: 'elsewhere',
        revision: 7,
        time: new Date().toISOString(),
        consistency: 'linearizable',
        entries: [{ key: 'x', value: [1], revision: 7, createRevision: 7, version: 1 }],
      }),
    );
    expect(await run(2, ['snapshot', 'restore', '--group', GROUP, file]), stderr).toBe(0);
    expect(await run(1, ['kv', 'get', '--group', GROUP, 'x'])).toBe(0);
    expect(stdout).toBe('[1]\n');
    const junk = join(dir, 'junk.json');
    await writeFile(junk, '{"hello":1}');
    expect(await run(2, ['snapshot', 'restore', '--group', GROUP, junk])).toBe(EXIT_USAGE);
    expect(stderr).toMatch(/not a cpgkit snapshot/);
  });
});
