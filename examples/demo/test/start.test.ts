/**
 * The README's `npm run demo [-- FLAGS]` is the root `demo` script: setup, then tsx on
 * examples/demo/src/main.ts with the flags appended. demo.test.ts runs that entry with the
 * README's `--memory --fast` to its JSON summary; here, the script and the README's flags.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const TSX = fileURLToPath(new URL('../../../node_modules/.bin/tsx', import.meta.url));
const ENTRY = ['--conditions=@cpgkit/source', 'examples/demo/src/main.ts'];

describe('the demo as its README runs it', () => {
  it('`npm run demo` is setup, then tsx on src/main.ts (the entry demo.test.ts runs)', async () => {
    const pkg = JSON.parse(await readFile(`${ROOT}package.json`, 'utf8')) as {
      scripts: Record<string, string>;
    };
    expect(pkg.scripts.demo).toBe(`node scripts/setup.mjs && tsx ${ENTRY.join(' ')}`);
    const readme = await readFile(`${ROOT}examples/demo/README.md`, 'utf8');
    expect(readme).toMatch(/^npm run demo$/m);
  });

  it('every flag the README passes with `npm run demo -- FLAG` is one the entry takes', async () => {
    const readme = await readFile(`${ROOT}examples/demo/README.md`, 'utf8');
    const flags = [...readme.matchAll(/^npm run demo -- (--[a-z]+)/gm)].map((m) => m[1]!);
    expect(flags.sort()).toEqual(['--corosync', '--fast', '--memory', '--web']);
    // the entry parses its flags strictly: with --help it exits 0 only if it knows every one
    const usage = await new Promise<string>((resolve, reject) =>
      execFile(TSX, [...ENTRY, '--help', ...flags], { cwd: ROOT, timeout: 60_000 }, (err, out) =>
        err
          ? reject(new Error(`the entry refused ${flags.join(' ')}: ${err.message}`))
          : resolve(out),
      ),
    );
    expect(usage).toMatch(/^usage: npm run demo /);
  }, 90_000);
});
