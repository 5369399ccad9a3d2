/**
 * The checks CI runs on the packed packages and on the app that installs them
 * (scripts/package-checks.ts), each shown to catch what it is for.
 */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { enginesTooNew, tarballProblems } from '../../scripts/package-checks.js';
import type { Manifest } from '../../scripts/workspace.js';

const ROOT_MANIFEST: Manifest = { name: 'root', version: '0.0.0', engines: { node: '>=20.19' } };
const GOOD: Manifest = {
  name: '@cpgkit/x',
  version: '0.1.0',
  description: 'x',
  license: 'MIT',
  keywords: ['x'],
  repository: { type: 'git', url: 'git+https://example.invalid/x.git' },
  engines: { node: '>=20.19' },
  dependencies: { '@cpgkit/core': '0.1.0', uuid: '^14.0.3' },
};
const FILES = ['LICENSE', 'README.md', 'package.json', 'dist/index.js', 'src/index.ts'];

describe('tarballProblems', () => {
  it('passes a fit package', () => {
    expect(tarballProblems(GOOD, FILES, ROOT_MANIFEST)).toEqual([]);
  });

  it('catches workspace ranges, missing metadata and LICENSE, build state and tests', () => {
    const { description: _d, repository: _r, ...bare } = GOOD;
    const manifest = { ...bare, dependencies: { '@cpgkit/core': 'workspace:*' } };
    const files = ['README.md', 'dist/.tsbuildinfo', 'dist/index.js', 'test/x.test.ts'];
    expect(tarballProblems(manifest, files, ROOT_MANIFEST)).toEqual([
      'unpublishable range dependencies.@cpgkit/core: workspace:*',
      'no "description" in package.json',
      'no "repository" in package.json',
      'no LICENSE file',
      'build state shipped: dist/.tsbuildinfo',
      'test file shipped: test/x.test.ts',
    ]);
  });

  it('catches engines that differ from the workspace', () => {
    const manifest = { ...GOOD, engines: { node: '>=22' } };
    expect(tarballProblems(manifest, FILES, ROOT_MANIFEST)).toEqual([
      "engines.node is >=22, the workspace's >=20.19",
    ]);
  });
});

describe('enginesTooNew', () => {
  let dir: string;
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function install(path: string, manifest: object): void {
    mkdirSync(join(dir, path), { recursive: true });
    writeFileSync(join(dir, path, 'package.json'), JSON.stringify(manifest));
  }

  it('names the packages, nested and scoped ones included, that need a newer Node', () => {
    dir = mkdtempSync(join(tmpdir(), 'cpgkit-engines-test-'));
    install('commander', { name: 'commander', version: '15.1.0', engines: { node: '>=22.12.0' } });
    install('ok', { name: 'ok', version: '1.0.0', engines: { node: '>=20' } });
    install('none', { name: 'none', version: '1.0.0' });
    install('@s/deep/node_modules/inner', {
      name: 'inner',
      version: '2.0.0',
      engines: { node: '^18 || >=20.20' },
    });
    install('@s/deep', { name: '@s/deep', version: '1.0.0', engines: { node: '>=20.19' } });
    expect(enginesTooNew(dir, '>=20.19')).toEqual([
      'commander@15.1.0 (node >=22.12.0)',
      'inner@2.0.0 (node ^18 || >=20.20)',
    ]);
    expect(enginesTooNew(join(dir, 'missing'), '>=20.19')).toEqual([]);
  });
});
