/**
 * Test support shared by the examples' `test/start.test.ts`: run an example the way its README
 * says (`pnpm --filter NAME start`, i.e. the `start` script's tsx command in the example's
 * folder), so a README command that drifts from package.json fails a test.
 * @module
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';

const TSX = fileURLToPath(new URL('../node_modules/.bin/tsx', import.meta.url));

interface Pkg {
  name: string;
  scripts: Record<string, string>;
}

/** The folder of the example whose test file is `testUrl` (`import.meta.url`). */
export function exampleDir(testUrl: string): string {
  return fileURLToPath(new URL('..', testUrl));
}

/**
 * The start script as a command line (program first), checked against what the README tells
 * users to run. The script is `tsx ... src/main.ts` or `node --import tsx ... src/main.ts`.
 */
export async function startArgs(dir: string): Promise<string[]> {
  const pkg = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as Pkg;
  const readme = await readFile(join(dir, 'README.md'), 'utf8');
  expect(readme).toContain(`pnpm --filter ${pkg.name} start`);
  const [bin, ...args] = pkg.scripts.start!.split(' ');
  expect(args.at(-1)).toBe('src/main.ts');
  if (bin === 'node') {
    expect(args.slice(0, 2)).toEqual(['--import', 'tsx']);
    return [process.execPath, ...args];
  }
  expect(bin).toBe('tsx');
  return [TSX, ...args];
}

/** A started example: its process, its exit, and everything it printed so far. */
export interface Started {
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  out(): string;
}

/**
 * Start the example (`argv`, program first, from `startArgs`, in `dir`); the whole process
 * group is killed after `limitMs`.
 */
export function startExample(dir: string, argv: string[], limitMs: number): Started {
  const [program, ...args] = argv;
  const child = spawn(program!, args, { cwd: dir, detached: true, stdio: 'pipe' });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (out += c.toString()));
  const timer = setTimeout(() => {
    out += `\n[killed after ${limitMs} ms]`;
    process.kill(-child.pid!, 'SIGKILL');
  }, limitMs);
  const exited = new Promise<number | null>((resolve) =>
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve(code);
    }),
  );
  return { child, exited, out: () => out };
}

/** Run the example to its end (killed after `limitMs`). */
export async function runExample(
  dir: string,
  argv: string[],
  limitMs: number,
): Promise<{ code: number | null; out: string }> {
  const started = startExample(dir, argv, limitMs);
  const code = await started.exited;
  return { code, out: started.out() };
}
