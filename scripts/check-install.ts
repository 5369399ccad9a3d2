/**
 * CI's proof that a user can install cpgkit: pack every published package (the release
 * path, `scripts/release.ts`), check the tarballs (no `workspace:` range, metadata, LICENSE,
 * no build state or tests), install them with plain npm and `--engine-strict` into a fresh
 * app in a temporary folder outside the repository, type-check the app's TypeScript with
 * `moduleResolution nodenext` and `strict`, and run it: a `ReplicatedMap` and `Locks` on 3
 * nodes of the in-memory cluster, a key set and read, a lock acquired and released, without
 * xstate installed and with koffi hidden (neither may load). Then, with xstate installed, an app
 * of `@cpgkit/statemachine/xstate` the same way. Also: every
 * installed package's `engines.node` admits the oldest Node the packages declare, and
 * `cpgkit --version` prints the packed version.
 *
 * ```sh
 * npm run check:install          # or: node --import tsx scripts/check-install.ts [--keep]
 * ```
 *
 * npm runs with `--prefer-offline`: what its cache holds is not fetched again.
 * @module
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, realpathSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { enginesTooNew, tarballProblems } from './package-checks.js';
import { packAll } from './release.js';
import { publishedPackages, readJson, ROOT, rootManifest, type Manifest } from './workspace.js';

const started = performance.now();
const keep = process.argv.includes('--keep');

function step(what: string): void {
  console.log(`check-install: ${what} (${((performance.now() - started) / 1000).toFixed(1)} s)`);
}

/** The environment of the user's npm: none of the npm_* variables of an `npm run` around us. */
function userEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k)) env[k] = v;
  return env;
}

function sh(cmd: string, args: string[], cwd: string): string {
  const r = spawnSync(cmd, args, { cwd, env: userEnv(), encoding: 'utf8' });
  if (r.status !== 0) {
    throw new Error(
      `${cmd} ${args.join(' ')} (in ${cwd}) exited ${r.status ?? r.signal}:\n${r.stdout}${r.stderr}`,
    );
  }
  return r.stdout;
}

/** The version of `name` installed in the workspace (at the root, or in the folder `under`). */
function installedVersion(name: string, under = ''): string {
  return readJson<Manifest>(join(ROOT, under, 'node_modules', name, 'package.json')).version;
}

const NPM_QUIET = ['--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'];

/** The app a new user writes: three embedded nodes (real time), a config store and locks. */
const APP = `import { embeddedCluster } from '@cpgkit/core';
import { ReplicatedMap } from '@cpgkit/statemachine';
import { Locks, type Lock } from '@cpgkit/locks';

const cluster = embeddedCluster({ nodes: 3 });
const nodes = cluster.nodeIds;

const maps: ReplicatedMap[] = await Promise.all(
  nodes.map((n) => ReplicatedMap.open(cluster.member(n), { groupName: 'config' })),
);
await Promise.all(maps.map((m) => m.ready({ timeout: 10_000 })));
const revision: number = await maps[0]!.set('feature/x', { enabled: true });
// reads are local: wait until node 3 has applied the write
const deadline = Date.now() + 10_000;
while (maps[2]!.revision < revision && Date.now() < deadline) {
  await new Promise((r) => setTimeout(r, 10));
}
const read = maps[2]!.get('feature/x');

const locks: Locks[] = await Promise.all(
  nodes.map((n) => Locks.open(cluster.member(n), { groupName: 'locks' })),
);
const first: Lock = await locks[1]!.acquire('nightly-report', { timeout: 10_000 });
const busy = await locks[2]!.tryAcquire('nightly-report');
await first.release();
const second = await locks[2]!.acquire('nightly-report', { timeout: 10_000 });
const tokens = [first.token, second.token].map(String);
await second.release();

for (const l of locks) await l.close();
for (const m of maps) await m.close();
cluster.destroy();
console.log(JSON.stringify({ revision, read, busy: busy === null, tokens }));
`;

/** The app of a user of the xstate adapter, who installs xstate next to cpgkit. */
const MACHINE_APP = `import { createMachine } from 'xstate';
import { embeddedCluster } from '@cpgkit/core';
import type { MemoryCluster } from '@cpgkit/core/testing';
import { replicateMachine, type ReplicatedActor } from '@cpgkit/statemachine/xstate';

const toggle = createMachine({
  id: 'toggle',
  initial: 'off',
  states: { off: { on: { TOGGLE: 'on' } }, on: { on: { TOGGLE: 'off' } } },
});
const cluster: MemoryCluster = embeddedCluster({ nodes: 3 });
const actors: ReplicatedActor<typeof toggle>[] = await Promise.all(
  cluster.nodeIds.map((n) => replicateMachine(toggle, cluster.member(n), { groupName: 'toggle' })),
);
await Promise.all(actors.map((a) => a.ready({ timeout: 10_000 })));
await actors[0]!.send({ type: 'TOGGLE' });
const deadline = Date.now() + 10_000;
while (actors.some((a) => a.snapshot.value !== 'on') && Date.now() < deadline) {
  await new Promise((r) => setTimeout(r, 10));
}
const values = actors.map((a) => a.snapshot.value);
for (const a of actors) await a.close();
cluster.destroy();
console.log(JSON.stringify(values));
`;

const TSCONFIG = {
  compilerOptions: {
    target: 'es2023',
    lib: ['es2023', 'esnext.disposable'],
    module: 'nodenext',
    moduleResolution: 'nodenext',
    strict: true,
    skipLibCheck: false,
    types: ['node'],
    outDir: 'out',
  },
};

function main(): void {
  const root = rootManifest();
  const packages = publishedPackages();
  const app = realpathSync(mkdtempSync(join(tmpdir(), 'cpgkit-install-')));
  if (!relative(realpathSync(ROOT), app).startsWith('..'))
    throw new Error(`the app folder ${app} is inside the repository`);
  try {
    step('packing every package with pnpm (scripts/release.ts)');
    const tarballs = packAll(join(app, 'tarballs'), ROOT, true);

    step('checking the tarballs');
    const problems: string[] = [];
    for (const t of tarballs) {
      const files = execFileSync('tar', ['tzf', t], { encoding: 'utf8' })
        .split('\n')
        .filter((f) => f !== '' && !f.endsWith('/'))
        .map((f) => f.replace(/^package\//, ''));
      const manifest = JSON.parse(
        execFileSync('tar', ['xzfO', t, 'package/package.json'], { encoding: 'utf8' }),
      ) as Manifest;
      for (const p of tarballProblems(manifest, files, root))
        problems.push(`${manifest.name}: ${p}`);
    }
    if (problems.length > 0)
      throw new Error(`the tarballs are not fit to publish:\n${problems.join('\n')}`);

    step('installing the tarballs with npm --engine-strict into a fresh app');
    const dependencies = Object.fromEntries(
      packages.map((p, i) => [p.manifest.name, `file:${tarballs[i]!}`]),
    );
    writeFileSync(
      join(app, 'package.json'),
      `${JSON.stringify(
        {
          name: 'cpgkit-install-check',
          private: true,
          type: 'module',
          dependencies,
          devDependencies: {
            typescript: installedVersion('typescript'),
            '@types/node': installedVersion('@types/node'),
          },
        },
        null,
        2,
      )}\n`,
    );
    sh('npm', ['install', '--engine-strict', ...NPM_QUIET], app);

    step(`checking that every installed package runs on Node ${root.engines?.node}`);
    const tooNew = enginesTooNew(join(app, 'node_modules'), root.engines?.node ?? '*');
    if (tooNew.length > 0)
      throw new Error(
        `these dependencies do not run on Node ${root.engines?.node}:\n${tooNew.join('\n')}`,
      );

    const tsc = join(app, 'node_modules/typescript/bin/tsc');
    const typecheck = (files: string[]): void => {
      const tsconfig = { ...TSCONFIG, include: files };
      writeFileSync(join(app, 'tsconfig.json'), `${JSON.stringify(tsconfig, null, 2)}\n`);
      sh(process.execPath, [tsc, '-p', '.'], app);
    };

    step('type-checking the app (nodenext, strict) and running it without koffi and xstate');
    writeFileSync(join(app, 'app.ts'), APP);
    typecheck(['app.ts']);
    // xstate (an optional peer) is not installed; koffi is, but the in-memory cluster must not
    // load it: hidden while the app runs, an import of either fails
    const koffi = join(app, 'node_modules/koffi');
    if (existsSync(join(app, 'node_modules/xstate')))
      throw new Error('npm installed xstate, an optional peer dependency nobody asked for');
    renameSync(koffi, `${koffi}.hidden`);
    let output: string;
    try {
      output = sh(process.execPath, ['out/app.js'], app).trim().split('\n').at(-1)!;
    } finally {
      renameSync(`${koffi}.hidden`, koffi);
    }
    const result = JSON.parse(output) as {
      revision: number;
      read: unknown;
      busy: boolean;
      tokens: string[];
    };
    const expected = { revision: 1, read: { enabled: true }, busy: true };
    if (
      JSON.stringify({ revision: result.revision, read: result.read, busy: result.busy }) !==
        JSON.stringify(expected) ||
      !(BigInt(result.tokens[1]!) > BigInt(result.tokens[0]!))
    )
      throw new Error(
        `the app printed ${output}, expected ${JSON.stringify(expected)} and increasing tokens`,
      );

    step('installing xstate, type-checking and running an app of @cpgkit/statemachine/xstate');
    sh(
      'npm',
      [
        'install',
        '--engine-strict',
        ...NPM_QUIET,
        `xstate@${installedVersion('xstate', 'packages/statemachine')}`,
      ],
      app,
    );
    writeFileSync(join(app, 'machine.ts'), MACHINE_APP);
    typecheck(['app.ts', 'machine.ts']);
    const toggled = sh(process.execPath, ['out/machine.js'], app).trim().split('\n').at(-1);
    if (toggled !== '["on","on","on"]')
      throw new Error(`the xstate app printed ${toggled}, expected ["on","on","on"]`);

    step('cpgkit --version');
    const version = sh(join(app, 'node_modules/.bin/cpgkit'), ['--version'], app).trim();
    const cli = packages.find((p) => p.manifest.name === '@cpgkit/cli')!;
    if (version !== cli.manifest.version)
      throw new Error(`cpgkit --version printed ${version}, expected ${cli.manifest.version}`);

    step(
      `ok: ${packages.map((p) => `${p.manifest.name}@${p.manifest.version}`).join(', ')} install with npm and run`,
    );
    console.log(`check-install: app output ${output}`);
  } finally {
    if (keep) console.log(`check-install: kept ${app}`);
    else rmSync(app, { recursive: true, force: true });
  }
}

try {
  main();
} catch (err) {
  console.error(`check-install: FAILED: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
}
