/**
 * The README's `pnpm --filter @cpgkit/example-locks start`, run as that script runs it (tsx on
 * src/main.ts in the example's folder) on the in-memory cluster: it must end with no update
 * lost and exit 0.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
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

describe('the locks example as its README runs it', () => {
  it('3 workers x 10 increments on the in-memory cluster: no update lost, exit 0', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cpgkit-example-locks-'));
    try {
      // --file (the README's flag): not the shared default file in $TMPDIR
      const { code, out } = await run(
        [...(await startArgs()), '--file', join(dir, 'c.json')],
        60_000,
      );
      expect(code, out).toBe(0);
      expect(out.trimEnd().split('\n').at(-1)).toBe('counter 0 -> 30; expected 30: no update lost');
      expect(out).toMatch(/runs the backup \(tryAcquire got the lock\)/);
      expect(out).toMatch(/uploading with permit/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 90_000);
});
