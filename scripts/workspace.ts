/**
 * The workspace as the release scripts see it: the root, its manifest, and the published
 * packages under `packages/`.
 * @module
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root. */
export const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** What a package.json holds, as far as the release path reads it. */
export interface Manifest {
  name: string;
  version: string;
  private?: boolean;
  description?: string;
  license?: string;
  keywords?: string[];
  repository?: { type: string; url: string; directory?: string };
  engines?: { node?: string };
  files?: string[];
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  packageManager?: string;
}

/** A published package of the workspace: its folder and its package.json. */
export interface WorkspacePackage {
  readonly dir: string;
  readonly manifest: Manifest;
}

/** A JSON file, parsed. */
export function readJson<T>(path: string): T {
  return JSON.parse(readFileSync(path, 'utf8')) as T;
}

/** The root package.json. */
export function rootManifest(root = ROOT): Manifest {
  return readJson<Manifest>(join(root, 'package.json'));
}

/** The packages under `packages/` that are published (not private), in folder order. */
export function publishedPackages(root = ROOT): WorkspacePackage[] {
  const base = join(root, 'packages');
  return readdirSync(base, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(base, d.name, 'package.json')))
    .map((d) => ({
      dir: join(base, d.name),
      manifest: readJson<Manifest>(join(base, d.name, 'package.json')),
    }))
    .filter((p) => !p.manifest.private)
    .sort((a, b) => a.dir.localeCompare(b.dir));
}
