#!/usr/bin/env node
// First-run setup for the quick-start commands: installs the workspace with pnpm
// (through npx when pnpm is not on PATH; corepack cannot verify pnpm here) and
// builds the packages. Cheap when everything is already in place. With
// --install-only, installs when needed and builds nothing more (the examples run
// from source).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const pnpmSpec = pkg.packageManager; // e.g. pnpm@10.34.9

function hasPnpm() {
  return spawnSync('pnpm', ['--version'], { stdio: 'ignore' }).status === 0;
}

function needsInstall() {
  const marker = join(root, 'node_modules', '.modules.yaml');
  if (!existsSync(marker)) return true;
  const lock = join(root, 'pnpm-lock.yaml');
  return existsSync(lock) && statSync(lock).mtimeMs > statSync(marker).mtimeMs;
}

function run(cmd, args) {
  execFileSync(cmd, args, { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
}

if (needsInstall()) {
  console.error('cpgkit: installing the workspace (first run only)...');
  const args = ['install', '--frozen-lockfile'];
  if (hasPnpm()) run('pnpm', args);
  else run('npx', ['--yes', pnpmSpec, ...args]);
} else if (!process.argv.includes('--install-only')) {
  // Keep the built packages current with the sources (incremental, fast).
  run(process.execPath, [
    join(root, 'node_modules', 'typescript', 'bin', 'tsc'),
    '-b',
    'tsconfig.build.json',
  ]);
}
