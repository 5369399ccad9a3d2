/**
 * Test support shared by the examples' `test/start.test.ts`: run an example the way its README
 * says, with npm only (`npm run example:NAME -- ARGS` from the repository root, which runs the
 * example's `start` script in its folder through scripts/example.mjs), so that a README command
 * that drifts from package.json fails a test.
 * @module
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { constants } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

interface Pkg {
  name: string;
  scripts: Record<string, string>;
}

/** The folder of the example whose test file is `testUrl` (`import.meta.url`). */
export function exampleDir(testUrl: string): string {
  return fileURLToPath(new URL('..', testUrl));
}

/** A command line as a README gives it: where it runs, and its words (program first). */
export interface ReadmeCommand {
  readonly cwd: string;
  readonly argv: readonly string[];
}

/**
 * The README's `npm run example:NAME`, checked against the root package.json (the script runs
 * scripts/example.mjs on the example) and the example's `start` script (`node --import tsx
 * ... src/main.ts`, which scripts/example.mjs runs in the example's folder). Arguments given
 * after it go to the example, as after `npm run example:NAME --`.
 */
export async function readmeCommand(dir: string): Promise<ReadmeCommand> {
  const name = basename(dir);
  const root = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as Pkg;
  const pkg = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as Pkg;
  const readme = await readFile(join(dir, 'README.md'), 'utf8');
  expect(readme).toMatch(new RegExp(`^npm run example:${name}\\b`, 'm'));
  expect(readme).not.toContain('pnpm');
  expect(root.scripts[`example:${name}`]).toBe(`node scripts/example.mjs ${name}`);
  const [bin, ...args] = pkg.scripts.start!.split(' ');
  expect([bin, ...args.slice(0, 2)]).toEqual(['node', '--import', 'tsx']);
  expect(args.at(-1)).toBe('src/main.ts');
  return { cwd: ROOT, argv: ['npm', 'run', `example:${name}`, '--'] };
}

/**
 * The environment of a user's shell: without the `npm_*` variables of the `npm test` or
 * `pnpm exec` around the tests (npm warns about pnpm's), and without npm's "new version"
 * notice after the example's last line.
 */
function userEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { npm_config_update_notifier: 'false' };
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k)) env[k] = v;
  return env;
}

/** A started example: its process, its exit, and everything it printed so far. */
export interface Started {
  readonly child: ChildProcess;
  /**
   * Its exit status once every process holding its output has ended: the exit code, or 128 +
   * the signal's number when a signal ended it (as a shell reports it: 130 after Ctrl-C).
   */
  readonly exited: Promise<number | null>;
  out(): string;
}

/**
 * Start the example with the README's command (`readmeCommand`) and `args` after it, in a
 * process group of its own; the whole group is killed after `limitMs`.
 */
export function startExample(
  command: ReadmeCommand,
  args: readonly string[],
  limitMs: number,
): Started {
  const [program, ...rest] = [...command.argv, ...args];
  const child = spawn(program!, rest, {
    cwd: command.cwd,
    detached: true,
    stdio: 'pipe',
    env: userEnv(),
  });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (out += c.toString()));
  const timer = setTimeout(() => {
    out += `\n[killed after ${limitMs} ms]`;
    process.kill(-child.pid!, 'SIGKILL');
  }, limitMs);
  const exited = new Promise<number | null>((resolve) =>
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve(signal ? 128 + constants.signals[signal] : code);
    }),
  );
  return { child, exited, out: () => out };
}

/** Run the example to its end (killed after `limitMs`). */
export async function runExample(
  command: ReadmeCommand,
  args: readonly string[],
  limitMs: number,
): Promise<{ code: number | null; out: string }> {
  const started = startExample(command, args, limitMs);
  const code = await started.exited;
  return { code, out: started.out() };
}
