/**
 * The release path of the @cpgkit packages: they are versioned together (one version for all)
 * and packed or published with pnpm, which rewrites the `workspace:*` ranges between them to
 * that version (`npm pack` would leave `workspace:*` in the tarballs, and npm cannot install
 * them: `EUNSUPPORTEDPROTOCOL`).
 *
 * ```sh
 * npm run release -- version 0.2.0      # every package to 0.2.0; CHANGELOG's Unreleased becomes 0.2.0
 * npm run release -- pack [DIR]         # clean build, one tarball per package in DIR (default: release/)
 * npm run release -- publish [--dry-run] # clean tree, changelog entry, clean build, pnpm -r publish
 * ```
 *
 * pnpm is used from PATH, or through `npx pnpm@<packageManager's version>` when it is not
 * installed (corepack cannot verify pnpm's signature here).
 * @module
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import semver from 'semver';
import { publishedPackages, ROOT, rootManifest, type WorkspacePackage } from './workspace.js';

/** pnpm as a command line: `pnpm` when on PATH, else `npx --yes pnpm@VERSION`. */
export function pnpmCommand(root = ROOT): [string, ...string[]] {
  if (spawnSync('pnpm', ['--version'], { stdio: 'ignore' }).status === 0) return ['pnpm'];
  return ['npx', '--yes', rootManifest(root).packageManager ?? 'pnpm@10'];
}

function run(argv: readonly string[], cwd: string, quiet = false): void {
  const [cmd, ...args] = argv;
  if (!quiet) {
    execFileSync(cmd!, args, { cwd, stdio: ['ignore', 'inherit', 'inherit'] });
    return;
  }
  const r = spawnSync(cmd!, args, { cwd, encoding: 'utf8' });
  if (r.status !== 0) {
    throw new Error(`${argv.join(' ')} exited ${r.status ?? r.signal}:\n${r.stdout}${r.stderr}`);
  }
}

/**
 * Remove every published package's `dist/` and build them again, so that no output of a
 * source file that no longer exists ends up in a tarball.
 */
export function cleanBuild(root = ROOT): void {
  for (const p of publishedPackages(root))
    rmSync(join(p.dir, 'dist'), { recursive: true, force: true });
  run(
    [process.execPath, join(root, 'node_modules/typescript/bin/tsc'), '-b', 'tsconfig.build.json'],
    root,
  );
}

/**
 * Build from scratch and pack every published package with pnpm into `outDir` (created if
 * needed, emptied of older tarballs). Returns the tarballs' paths, one per package.
 */
export function packAll(outDir: string, root = ROOT, quiet = false): string[] {
  const out = resolve(outDir);
  mkdirSync(out, { recursive: true });
  for (const f of readdirSync(out)) if (f.endsWith('.tgz')) rmSync(join(out, f));
  cleanBuild(root);
  const pnpm = pnpmCommand(root);
  run([...pnpm, '-r', '--filter', './packages/*', 'pack', '--pack-destination', out], root, quiet);
  const tarballs = publishedPackages(root).map((p) =>
    join(out, `${p.manifest.name.replace(/^@/, '').replace('/', '-')}-${p.manifest.version}.tgz`),
  );
  for (const t of tarballs) if (!existsSync(t)) throw new Error(`pnpm pack made no ${t}`);
  return tarballs;
}

/** The one version every published package has; throws when they differ. */
export function commonVersion(packages: readonly WorkspacePackage[]): string {
  const versions = new Set(packages.map((p) => p.manifest.version));
  if (versions.size !== 1) {
    const list = packages.map((p) => `${p.manifest.name}@${p.manifest.version}`).join(', ');
    throw new Error(`the packages are released together and must share one version: ${list}`);
  }
  return [...versions][0]!;
}

/**
 * The changelog with its `## Unreleased` section renamed to `## VERSION - DATE` under a new,
 * empty `## Unreleased`. Throws when there is no Unreleased section, when it is empty (a
 * release says what changed), or when VERSION already has a section.
 */
export function rollChangelog(text: string, version: string, date: string): string {
  const heading = /^## Unreleased[ \t]*$/m.exec(text);
  if (!heading) throw new Error('CHANGELOG.md has no "## Unreleased" section');
  const start = heading.index + heading[0].length;
  const next = text.slice(start).search(/^## /m);
  const body = next < 0 ? text.slice(start) : text.slice(start, start + next);
  if (body.trim() === '') throw new Error('the "## Unreleased" section of CHANGELOG.md is empty');
  if (new RegExp(`^## ${version.replace(/\./g, '\\.')}\\b`, 'm').test(text))
    throw new Error(`CHANGELOG.md already has a section for ${version}`);
  return `${text.slice(0, heading.index)}## Unreleased\n\n## ${version} - ${date}${text.slice(start)}`;
}

/** Whether the changelog has a section for `version`. */
export function changelogHas(text: string, version: string): boolean {
  return new RegExp(`^## ${version.replace(/\./g, '\\.')}( |$)`, 'm').test(text);
}

/**
 * Set every published package to `version` (greater than the current one) and roll the
 * changelog. The `workspace:*` ranges between packages stay: pnpm writes the version into
 * the tarballs.
 */
export function setVersion(version: string, root = ROOT, date = new Date()): void {
  const packages = publishedPackages(root);
  const current = commonVersion(packages);
  if (!semver.valid(version)) throw new Error(`not a version: ${version}`);
  if (!semver.gt(version, current)) throw new Error(`${version} is not above ${current}`);
  const changelog = join(root, 'CHANGELOG.md');
  const rolled = rollChangelog(
    readFileSync(changelog, 'utf8'),
    version,
    date.toISOString().slice(0, 10),
  );
  for (const p of packages) {
    const path = join(p.dir, 'package.json');
    const text = readFileSync(path, 'utf8');
    const updated = text.replace(/^(\s*"version":\s*)"[^"]*"/m, `$1"${version}"`);
    if (updated === text) throw new Error(`no version field in ${path}`);
    writeFileSync(path, updated);
  }
  writeFileSync(changelog, rolled);
}

function main(argv: string[]): void {
  const [command, ...args] = argv;
  switch (command) {
    case 'version': {
      const version = args[0];
      if (!version) throw new Error('usage: release version X.Y.Z');
      setVersion(version);
      console.log(
        `every package is at ${version}; CHANGELOG.md has its section. Commit, then: npm run release -- publish`,
      );
      return;
    }
    case 'pack': {
      const tarballs = packAll(args[0] ?? join(ROOT, 'release'));
      for (const t of tarballs) console.log(t);
      return;
    }
    case 'publish': {
      const dryRun = args.includes('--dry-run');
      const version = commonVersion(publishedPackages());
      if (!changelogHas(readFileSync(join(ROOT, 'CHANGELOG.md'), 'utf8'), version))
        throw new Error(
          `CHANGELOG.md has no section for ${version}: npm run release -- version X.Y.Z`,
        );
      const dirty = execFileSync('git', ['status', '--porcelain'], { cwd: ROOT, encoding: 'utf8' });
      if (dirty.trim() !== '' && !dryRun) throw new Error(`the work tree is not clean:\n${dirty}`);
      cleanBuild();
      const publish = ['-r', '--filter', './packages/*', 'publish', '--access', 'public'];
      run(
        [...pnpmCommand(), ...publish, ...(dryRun ? ['--dry-run', '--no-git-checks'] : [])],
        ROOT,
      );
      return;
    }
    default:
      throw new Error('usage: npm run release -- version X.Y.Z | pack [DIR] | publish [--dry-run]');
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    main(process.argv.slice(2));
  } catch (err) {
    console.error(`release: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  }
}
