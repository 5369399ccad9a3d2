import { execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { MessageEvent } from '@cpgkit/core';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { requireCluster } from '../harness/availability.js';
import { execOnNode, repoRoot } from '../harness/cluster.js';
import { lineSplitter } from '../harness/protocol.js';
import { RealCluster } from '../harness/real-cluster.js';

const env = requireCluster();
const cli = join(repoRoot, 'packages', 'cli', 'bin', 'cpgkit.js');
const run = promisify(execFile);

/** `cpgkit ARGS...` inside node N's namespace. */
function cpgkit(node: number, args: string[]) {
  return execOnNode(node, [process.execPath, cli, ...args], { timeoutMs: 60_000 });
}

function unique(what: string): string {
  return `cli-${what}-${process.pid}-${Math.floor(Math.random() * 1e9).toString(36)}`;
}

type Json = Record<string, unknown>;

/** `cpgkit listen ...` on node N as a running process, its stdout parsed as JSON lines. */
function listen(node: number, args: string[]) {
  const ns = env!.nodes.find((n) => n.node === node)!.namespace;
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, cli, 'listen', ...args], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: Json[] = [];
  let stderr = '';
  child.stdout.on(
    'data',
    lineSplitter((l) => lines.push(JSON.parse(l) as Json)),
  );
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number | null>((resolve) =>
    child.on('close', (code) => resolve(code)),
  );
  return { child, lines, exited, stderr: () => stderr };
}

/** corosync-cpgtool's listing on node N: group → sorted "nodeid:pid" list. */
async function cpgtool(node: number): Promise<Map<string, string[]>> {
  const r = await execOnNode(node, ['corosync-cpgtool']);
  expect(r.code).toBe(0);
  const groups = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const line of r.stdout.split('\n').slice(1)) {
    if (line.trim() === '') continue;
    if (/^\s/.test(line)) {
      const [pid, nodeid] = line.trim().split(/\s+/);
      current?.push(`${nodeid}:${pid}`);
    } else {
      current = [];
      groups.set(line.trim(), current);
    }
  }
  for (const v of groups.values()) v.sort();
  return groups;
}

describe('cpgkit group commands on the real cluster', () => {
  let fx: RealCluster | undefined;
  const children: { child: { kill(sig: NodeJS.Signals): boolean } }[] = [];

  beforeAll(async () => {
    if (!env) return;
    // the bin runs dist/: build what changed (incremental, quick when nothing did)
    await run(
      process.execPath,
      [join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '-b', 'tsconfig.build.json'],
      {
        cwd: repoRoot,
      },
    );
  });

  afterEach(async () => {
    for (const c of children.splice(0)) c.child.kill('SIGKILL');
    await fx?.close();
    fx = undefined;
  });

  it('groups --json agrees with corosync-cpgtool', async () => {
    fx = await RealCluster.open();
    const name = unique('groups');
    const members = await Promise.all([fx.member(2), fx.member(3), fx.member(3)]);
    for (const m of members) await m.join(name);
    await fx.waitFor(() => members.every((m) => m.members().length === 3), 20_000, 'three members');

    const r = await cpgkit(1, ['groups', '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const listed = JSON.parse(r.stdout) as {
      group: string;
      members: { nodeid: number; pid: number }[];
    }[];
    const ours = listed.find((g) => g.group === name);
    expect(ours?.members.map((m) => `${m.nodeid}:${m.pid}`).sort()).toEqual(
      members.map((m) => `${m.self.nodeid}:${m.self.pid}`).sort(),
    );
    const fromTool = await cpgtool(1);
    const fromCli = new Map(
      listed.map((g) => [g.group, g.members.map((m) => `${m.nodeid}:${m.pid}`).sort()]),
    );
    expect(fromCli).toEqual(fromTool);

    const text = await cpgkit(1, ['groups']);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(name);
  });

  it('listen --count 2 --json on node 1 receives what send on node 2 sent, then exits 0', async () => {
    const name = unique('listen');
    const l = listen(1, [name, '--count', '2', '--json']);
    children.push(l);
    const deadline = Date.now() + 20_000;
    while (!l.lines.some((e) => e.type === 'membership')) {
      if (Date.now() > deadline) throw new Error(`listener never joined: ${l.stderr()}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    const first = l.lines.find((e) => e.type === 'membership') as {
      members: unknown[];
      joined: Json[];
    };
    expect(first.joined).toEqual([
      { nodeid: 1, pid: expect.any(Number) as number, reason: 'join' },
    ]);

    const s = await cpgkit(2, ['send', name, 'one', 'twö']);
    expect(s.stderr).toBe('');
    expect(s.code).toBe(0);
    expect(await l.exited).toBe(0);
    const msgs = l.lines.filter((e) => e.type === 'message');
    expect(msgs.map((m) => m.data)).toEqual(['one', 'twö']);
    const senders = msgs.map((m) => m.sender as { nodeid: number; pid: number });
    expect(senders[0]?.nodeid).toBe(2);
    expect(senders[1]).toEqual(senders[0]);
    // the sender's join is in the listener's stream before its messages, with its reason
    const joinOfSender = l.lines.find(
      (e) =>
        e.type === 'membership' &&
        (e.joined as Json[]).some((j) => j.nodeid === 2 && j.pid === senders[0]?.pid),
    );
    expect(joinOfSender).toBeDefined();
    expect(l.lines.indexOf(joinOfSender!)).toBeLessThan(l.lines.indexOf(msgs[0]!));
  });

  it('listen --json prints bytes that are not UTF-8 as base64; send --repeat sends every round in order', async () => {
    fx = await RealCluster.open();
    const name = unique('bytes');
    const l = listen(1, [name, '--count', '7', '--json']);
    children.push(l);
    const watcher = await fx.member(3);
    const got: MessageEvent[] = [];
    watcher.on('message', (m) => got.push(m));
    await watcher.join(name);
    await fx.waitFor(
      () => watcher.members().length === 2,
      20_000,
      'the listener and the watcher to meet',
    );

    await watcher.send(new Uint8Array([0xff, 0xfe, 0x00, 0x41]));
    const s = await cpgkit(2, ['send', name, 'a', 'b', '--repeat', '3']);
    expect(s.stderr).toBe('');
    expect(s.code).toBe(0);
    expect(await l.exited).toBe(0);
    const msgs = l.lines.filter((e) => e.type === 'message');
    expect(msgs[0]).toEqual({
      type: 'message',
      sender: watcher.self,
      base64: Buffer.from([0xff, 0xfe, 0x00, 0x41]).toString('base64'),
    });
    expect(msgs.slice(1).map((m) => m.data)).toEqual(['a', 'b', 'a', 'b', 'a', 'b']);
    await fx.waitFor(() => got.length === 7, 10_000, 'the watcher to get all seven');
    expect(got.slice(1).map((m) => new TextDecoder().decode(m.data))).toEqual([
      'a',
      'b',
      'a',
      'b',
      'a',
      'b',
    ]);
  });

  it('bench --count 200 --json on node 1 prints its rate as JSON on the last line', async () => {
    // its own group, so that it never floods a group someone else is measuring
    const r = await cpgkit(1, ['bench', '--group', unique('bench'), '--count', '200', '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const last = r.stdout.trim().split('\n').pop()!;
    const result = JSON.parse(last) as {
      msgsPerSec: number;
      mbPerSec: number;
      count: number;
      size: number;
      mode: string;
    };
    expect(result).toMatchObject({ count: 200, size: 64, mode: 'group' });
    expect(Number.isFinite(result.msgsPerSec) && result.msgsPerSec > 0).toBe(true);
    expect(Number.isFinite(result.mbPerSec) && result.mbPerSec > 0).toBe(true);
  });

  it('without a reachable daemon, every command exits non-zero with one line saying corosync is not running', async () => {
    // a fresh, empty network namespace: corosync's IPC (abstract sockets) is per namespace
    for (const args of [['groups'], ['listen', 'x', '--count', '1'], ['send', 'x', 'hello']]) {
      const r = await run('unshare', ['-n', process.execPath, cli, ...args], {
        cwd: repoRoot,
      }).then(
        () => ({ code: 0, stderr: '' }),
        (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }),
      );
      expect(r.code, args.join(' ')).not.toBe(0);
      const lines = r.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(
        /^cpgkit: CorosyncNotRunningError: .*cannot reach corosync.*is the daemon running\?/,
      );
    }
  });

  it("usage errors exit 2 (or commander's code) with a message, before touching corosync", async () => {
    const bad = await cpgkit(1, ['listen', 'g', '--count', '0']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--count wants a positive integer/);
    const missing = await cpgkit(1, ['send', 'g']);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/missing required argument/);
  });
});
