/**
 * Interop with a plain C libcpg client (bench/native/cpgbench.c) in the same group, both
 * directions. The C client names the group with strlen() (no NUL): the same rule as cpgkit,
 * so both are in ONE group.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { join } from 'node:path';
import type { MessageEvent } from '@cpgkit/core';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { requireCluster } from '../harness/availability.js';
import { execOnNode, repoRoot } from '../harness/cluster.js';
import { RealCluster } from '../harness/real-cluster.js';

requireCluster();
const enc = new TextEncoder();
const dec = new TextDecoder();
const unique = (what: string) => `${what}-${process.pid}-${Date.now().toString(36)}`;

let cbench = '';
beforeAll(() => {
  const r = spawnSync('bash', [join(repoRoot, 'bench/native/build.sh')], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`bench/native/build.sh failed: ${r.stderr}`);
  cbench = r.stdout.trim();
});

interface CLine {
  type: 'ready' | 'message';
  self?: { nodeid: number; pid: number };
  sender?: { nodeid: number; pid: number };
  base64?: string;
}

/** `cpgbench listen GROUP COUNT` inside node N's namespace, its JSON lines as they come. */
function listenInC(
  namespace: string,
  group: string,
  count: number,
): { lines: CLine[]; child: ChildProcessWithoutNullStreams; exited: Promise<number | null> } {
  const child = spawn('ip', ['netns', 'exec', namespace, cbench, 'listen', group, String(count)]);
  const lines: CLine[] = [];
  let buf = '';
  child.stdout.on('data', (d: Buffer) => {
    buf += d.toString();
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      lines.push(JSON.parse(buf.slice(0, nl)) as CLine);
      buf = buf.slice(nl + 1);
    }
  });
  const exited = new Promise<number | null>((r) => child.on('close', r));
  return { lines, child, exited };
}

describe('interop with a C libcpg client', () => {
  let fx: RealCluster | undefined;
  let child: ChildProcessWithoutNullStreams | undefined;
  afterEach(async () => {
    child?.kill('SIGKILL');
    child = undefined;
    await fx?.close();
    fx = undefined;
  });

  it('cpgkit -> C: single sends arrive as the exact bytes, from our member id', async () => {
    fx = await RealCluster.open();
    const group = unique('interop-to-c');
    const c = listenInC(fx.namespace(2), group, 3);
    child = c.child;
    await fx.waitFor(() => c.lines.some((l) => l.type === 'ready'), 15_000, 'the C client to join');
    const m = await fx.member(1);
    await m.join(group, { timeout: 15_000 });
    await fx.waitFor(() => m.members().length === 2, 15_000, 'cpgkit to see the C client');
    const cSelf = c.lines.find((l) => l.type === 'ready')!.self!;
    expect(m.members()).toContainEqual(cSelf);
    const texts = ['hello C', 'ünïcödé', '\u0000binary\u00ff'];
    for (const t of texts) await m.send(enc.encode(t));
    expect(await c.exited).toBe(0);
    const got = c.lines.filter((l) => l.type === 'message');
    expect(got.map((l) => l.sender)).toEqual(texts.map(() => m.self));
    expect(got.map((l) => Buffer.from(l.base64!, 'base64').toString('utf8'))).toEqual(texts);
  });

  it('C -> cpgkit: each C message is one message event with the C sender', async () => {
    fx = await RealCluster.open();
    const group = unique('interop-from-c');
    const m = await fx.member(1);
    const got: MessageEvent[] = [];
    m.on('message', (e) => got.push(e));
    await m.join(group, { timeout: 15_000 });
    const sent = await execOnNode(3, [cbench, 'send', group, 'hello from C', 'second']);
    expect(sent.code).toBe(0);
    await fx.waitFor(() => got.length >= 2, 15_000, 'both C messages');
    expect(got.map((e) => dec.decode(e.data))).toEqual(['hello from C', 'second']);
    expect(got.every((e) => e.sender.nodeid === 3)).toBe(true);
    expect(got[0]!.sender.pid).not.toBe(m.self.pid);
  });
});
