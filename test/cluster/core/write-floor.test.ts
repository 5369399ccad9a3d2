/**
 * The C write floor of the benchmark (bench/src/write-floor.ts: `cpgbench echo` and `cpgbench
 * write`, bench/native/cpgbench.c) on the real cluster: a write counts as done only once its
 * writer delivered it AND another member acked it, so a stopped echo holds every write back.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { requireCluster } from '../harness/availability.js';
import { repoRoot } from '../harness/cluster.js';
import { RealCluster } from '../harness/real-cluster.js';

requireCluster();

let cbench = '';
beforeAll(() => {
  const r = spawnSync('bash', [join(repoRoot, 'bench/native/build.sh')], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`bench/native/build.sh failed: ${r.stderr}`);
  cbench = r.stdout.trim();
});

/** `cpgbench ARGS` inside `namespace`, its stdout as it comes. */
function inC(namespace: string, args: string[]) {
  const child = spawn('ip', ['netns', 'exec', namespace, cbench, ...args]);
  const out = { text: '' };
  child.stdout.on('data', (d: Buffer) => (out.text += d.toString()));
  return { child, out };
}

describe('the C write floor', () => {
  let fx: RealCluster | undefined;
  const children: ChildProcessWithoutNullStreams[] = [];
  afterEach(async () => {
    for (const c of children.splice(0)) {
      c.kill('SIGCONT');
      c.kill('SIGKILL');
    }
    await fx?.close();
    fx = undefined;
  });

  it('times each write until its own delivery and an ack: a stopped echo holds them all', async () => {
    fx = await RealCluster.open();
    const group = `floor-${process.pid}-${Date.now().toString(36)}`;
    const echo = inC(fx.namespace(2), ['echo', group]);
    children.push(echo.child);
    await fx.waitFor(() => echo.out.text.includes('"ready"'), 15_000, 'the echo to join');
    const writer = inC(fx.namespace(1), ['write', group, '--rate', '100', '--count', '50']);
    children.push(writer.child);
    await fx.waitFor(() => writer.out.text.includes('"ready"'), 15_000, 'the writer to see it');
    // the writes are due from 5 to 495 ms after "ready"; the echo stops within a poll (20 ms)
    // of it, so nearly all of them are due while it is stopped
    echo.child.kill('SIGSTOP');
    const stoppedAt = Date.now();
    await new Promise((r) => setTimeout(r, 1500));
    expect(writer.out.text).not.toContain('"samples"');
    echo.child.kill('SIGCONT');
    await fx.waitFor(() => writer.out.text.includes('"samples"'), 30_000, 'the writes to resolve');
    const line = writer.out.text.split('\n').find((l) => l.startsWith('{"samples"'))!;
    const r = JSON.parse(line) as { samples: number[]; errors: number };
    expect(r.errors).toBe(0);
    expect(r.samples).toHaveLength(50);
    for (const s of r.samples) expect(s).toBeGreaterThan(0);
    // a write due while the echo was stopped resolved only after it ran again: due at most
    // 495 ms after the stop, resolved at least 1,500 ms after it
    expect(r.samples.filter((s) => s > 1000).length).toBeGreaterThanOrEqual(40);
    expect(Math.max(...r.samples)).toBeLessThan(Date.now() - stoppedAt + 1000);
  });
});
