/**
 * The README's `pnpm --filter @cpgkit/example-leader-election start`, run as that script runs it
 * (tsx on src/main.ts in the example's folder) on the in-memory cluster: a leader runs the job,
 * its node crashes, another node takes over with a newer term, and the process exits 0.
 */
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const EXAMPLE = fileURLToPath(new URL('..', import.meta.url));
const TSX = fileURLToPath(new URL('../../../node_modules/.bin/tsx', import.meta.url));

interface Pkg {
  name: string;
  scripts: Record<string, string>;
}

/** The start script's arguments after `tsx`, checked against what the README tells users to run. */
async function startArgs(): Promise<string[]> {
  const pkg = JSON.parse(await readFile(join(EXAMPLE, 'package.json'), 'utf8')) as Pkg;
  const readme = await readFile(join(EXAMPLE, 'README.md'), 'utf8');
  expect(readme).toContain(`pnpm --filter ${pkg.name} start`);
  const [bin, ...args] = pkg.scripts.start!.split(' ');
  expect(bin).toBe('tsx');
  expect(args.at(-1)).toBe('src/main.ts');
  return args;
}

/** Run the example to its end, killed (the whole process group) after `limitMs`. */
function run(args: string[], limitMs: number): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(TSX, args, { cwd: EXAMPLE, detached: true, stdio: 'pipe' });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    const timer = setTimeout(() => {
      out += `\n[killed after ${limitMs} ms]`;
      process.kill(-child.pid!, 'SIGKILL');
    }, limitMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

describe('the leader-election example as its README runs it', () => {
  it('the leader runs the job, its node crashes, a standby takes over with a newer term; exit 0', async () => {
    const { code, out } = await run(await startArgs(), 60_000);
    expect(code, out).toBe(0);
    const crash = /\*\*\* crashing node (\d) \(the leader's\) \*\*\*/.exec(out);
    expect(crash, out).not.toBeNull();
    const crashed = Number(crash![1]);
    const [before, after] = [out.slice(0, crash!.index), out.slice(crash!.index)];
    const elected = (text: string) =>
      [...text.matchAll(/node (\d): elected \(term (\d+)\)/g)].map((m) => ({
        node: Number(m[1]),
        term: BigInt(m[2]!),
      }));
    const first = elected(before);
    expect(
      first.map((e) => e.node),
      out,
    ).toEqual([crashed]);
    expect(before).toMatch(new RegExp(`node ${crashed}: runs the job`));
    const next = elected(after);
    expect(next.length, out).toBeGreaterThanOrEqual(1);
    expect(next[0]!.node).not.toBe(crashed);
    expect(next[0]!.term).toBeGreaterThan(first[0]!.term);
    expect(after).toMatch(new RegExp(`node ${next[0]!.node}: runs the job`));
  }, 90_000);
});
