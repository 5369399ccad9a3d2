/**
 * Checks of what the release path makes: a packed package's manifest and files, and the
 * engines of what an installed app pulls in.
 * @module
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import semver from 'semver';
import { readJson, type Manifest } from './workspace.js';

/** Dependency ranges that only a workspace can resolve (`workspace:`, `link:`, `file:`). */
export function unpublishableRanges(manifest: Manifest): string[] {
  const out: string[] = [];
  for (const field of ['dependencies', 'peerDependencies', 'optionalDependencies'] as const) {
    for (const [name, range] of Object.entries(manifest[field] ?? {})) {
      if (/^(workspace|link|file|portal):/.test(range)) out.push(`${field}.${name}: ${range}`);
    }
  }
  return out;
}

/**
 * What is wrong with a packed package: its manifest (as packed) and the paths of its files
 * (without the tarball's `package/` prefix). Empty when it is fit to publish.
 */
export function tarballProblems(
  manifest: Manifest,
  files: readonly string[],
  root: Manifest,
): string[] {
  const problems = unpublishableRanges(manifest).map((r) => `unpublishable range ${r}`);
  for (const field of ['description', 'license', 'keywords', 'repository'] as const) {
    if (manifest[field] === undefined) problems.push(`no "${field}" in package.json`);
  }
  if (manifest.engines?.node !== root.engines?.node)
    problems.push(
      `engines.node is ${manifest.engines?.node}, the workspace's ${root.engines?.node}`,
    );
  if (!files.includes('LICENSE')) problems.push('no LICENSE file');
  if (!files.includes('README.md')) problems.push('no README.md');
  for (const f of files) {
    if (f.endsWith('.tsbuildinfo')) problems.push(`build state shipped: ${f}`);
    if (/(^|\/)(test|tests|__tests__)\//.test(f) || /\.(test|spec)\.[cm]?[jt]s$/.test(f))
      problems.push(`test file shipped: ${f}`);
  }
  return problems;
}

/**
 * The packages under `nodeModules` (nested ones included) whose `engines.node` does not admit
 * the oldest Node that `range` (the workspace's `engines.node`) allows, as `name@version (node
 * RANGE)`.
 */
export function enginesTooNew(nodeModules: string, range: string): string[] {
  const oldest = semver.minVersion(range)?.version;
  if (!oldest) throw new Error(`not a Node range: ${range}`);
  const out: string[] = [];
  const walk = (dir: string): void => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    for (const d of entries) {
      if (!d.isDirectory() || d.name.startsWith('.')) continue;
      const path = join(dir, d.name);
      if (d.name.startsWith('@')) {
        walk(path);
        continue;
      }
      let pkg: Manifest;
      try {
        pkg = readJson<Manifest>(join(path, 'package.json'));
      } catch {
        continue;
      }
      const node = pkg.engines?.node;
      if (node && !semver.satisfies(oldest, node))
        out.push(`${pkg.name}@${pkg.version} (node ${node})`);
      walk(join(path, 'node_modules'));
    }
  };
  walk(nodeModules);
  return out.sort();
}
