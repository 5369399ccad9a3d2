/**
 * The README's `pnpm --filter @cpgkit/example-statemachine start`, run as that script runs it
 * (tsx on src/main.ts in the example's folder) on the in-memory cluster: every node reaches
 * `live` with equal state digests, and the process exits 0.
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

describe('the statemachine example as its README runs it', () => {
  it('DEPLOY, BUILT, 5 s of canary, then live on all three nodes with equal digests; exit 0', async () => {
    const { code, out } = await run(await startArgs(), 60_000);
    expect(code, out).toBe(0);
    for (const n of [1, 2, 3]) expect(out).toMatch(new RegExp(`node ${n}: live v2`));
    expect(out).toMatch(/ANNOUNCE v2 is live \(executor only\)/);
    expect(out.trimEnd().split('\n').at(-1)).toMatch(/ all live; state digests equal$/);
  }, 90_000);
});
