/**
 * The worker as one plain JavaScript file, built once per run by esbuild from the TypeScript
 * sources (cpgkit's own, through the `@cpgkit/source` condition, so no stale `dist/` is
 * measured). Workers run it with plain `node`, as an application runs the published packages:
 * through tsx, every worker also carried tsx's loader and esbuild's service, about 36 MiB of
 * resident memory that a cpgkit user does not pay (it was counted in the "resident size"
 * rows). koffi (native) and etcd3 (it reads its .proto files from its own directory) stay
 * outside the bundle and are loaded from bench/node_modules, which is why the file is written
 * under bench/ (in `.build/`, ignored by git; bench/package.json makes its `.js` files ES
 * modules) and removed when the run ends.
 * @module
 */
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { build } from 'esbuild';
import { repoRoot } from './paths.js';

const BUILD_DIR = join(repoRoot, 'bench', '.build');

let built: Promise<string> | undefined;
let dir: string | undefined;

/** Build the worker bundle (once per process); resolves with the path of its entry file. */
export function workerBundle(): Promise<string> {
  built ??= (async () => {
    dir = join(BUILD_DIR, `worker-${process.pid}`);
    await mkdir(dir, { recursive: true });
    await build({
      entryPoints: [join(repoRoot, 'bench', 'src', 'worker.ts')],
      outdir: dir,
      bundle: true,
      // the adapters stay chunks of their own, imported when a worker opens one: an etcd
      // worker does not load cpgkit, nor a cpgkit worker etcd3 and gRPC (about 25 MiB)
      splitting: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      conditions: ['@cpgkit/source'],
      external: ['koffi', 'etcd3'],
      // a CommonJS dependency inside an ES module bundle needs a `require`
      banner: {
        js: "import { createRequire as __benchRequire } from 'node:module'; const require = __benchRequire(import.meta.url);",
      },
      logLevel: 'error',
    });
    return join(dir, 'worker.js');
  })();
  return built;
}

/** Remove the bundle this process built, if any. */
export async function removeWorkerBundle(): Promise<void> {
  if (dir) await rm(dir, { recursive: true, force: true });
  built = undefined;
  dir = undefined;
}
