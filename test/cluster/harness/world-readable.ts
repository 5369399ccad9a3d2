/**
 * Running repository code as another user (e.g. uid 65534) wherever the checkout lives: a
 * checkout inside a 0700 directory (root's home, a `mktemp -d`) cannot be read by that user,
 * so the entry is bundled (esbuild, the `@cpgkit/source` condition) into a fresh directory under
 * /tmp with mode 0755, with koffi (native, not bundled) copied beside it.
 * @module
 */
import { createRequire } from 'node:module';
import { chmod, cp, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { build } from 'esbuild';
import { repoRoot } from './cluster.js';

/** A bundled entry in a world-readable directory; `close()` removes it. */
export interface WorldReadableScript extends AsyncDisposable {
  /** The directory (mode 0755). */
  readonly dir: string;
  /** The bundled entry: run it with `node <script>`. */
  readonly script: string;
  close(): Promise<void>;
}

/** Make everything under `path` readable (and directories enterable) by everyone. */
async function openUp(path: string): Promise<void> {
  const s = await stat(path);
  await chmod(path, s.isDirectory() ? 0o755 : s.mode & 0o111 ? 0o755 : 0o644);
  if (s.isDirectory()) for (const e of await readdir(path)) await openUp(join(path, e));
}

/**
 * Bundle the TypeScript `entry` (a path in the repository) for a process of another user.
 * @param entry - the entry's path
 */
export async function worldReadable(entry: string): Promise<WorldReadableScript> {
  // /tmp itself (1777), not $TMPDIR, which may be private to this user
  const base = existsSync('/tmp') ? '/tmp' : tmpdir();
  const dir = await mkdtemp(join(base, 'cpgkit-probe-'));
  const close = (): Promise<void> => rm(dir, { recursive: true, force: true });
  try {
    const script = join(dir, 'entry.mjs');
    await build({
      entryPoints: [entry],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      conditions: ['@cpgkit/source'],
      external: ['koffi'],
      outfile: script,
      logLevel: 'silent',
    });
    // koffi and its native package, as pnpm laid them out next to each other: the
    // node_modules directory that holds the resolved koffi
    let modules = createRequire(join(repoRoot, 'packages', 'core', 'package.json')).resolve(
      'koffi',
    );
    while (basename(modules) !== 'node_modules') modules = dirname(modules);
    await cp(modules, join(dir, 'node_modules'), { recursive: true, dereference: true });
    await openUp(dir);
    return { dir, script, close, [Symbol.asyncDispose]: close };
  } catch (e) {
    await close();
    throw e;
  }
}
