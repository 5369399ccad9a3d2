/**
 * The release path (scripts/release.ts): one version for every package, bumped together, and
 * the changelog's Unreleased section turned into that version's section. Runs on a scratch
 * workspace in a temporary folder, never on the repository.
 */
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { changelogHas, commonVersion, rollChangelog, setVersion } from '../../scripts/release.js';
import { publishedPackages, ROOT } from '../../scripts/workspace.js';

const CHANGELOG = `# Changelog

Intro.

## Unreleased

### Changed

- something

## 0.1.0 - 2026-01-01

- first
`;

describe('rollChangelog', () => {
  it('turns Unreleased into the version section under a new, empty Unreleased', () => {
    const rolled = rollChangelog(CHANGELOG, '0.2.0', '2026-12-04');
    expect(rolled).toBe(`# Changelog

Intro.

## Unreleased

## 0.2.0 - 2026-12-04

### Changed

- something

## 0.1.0 - 2026-01-01

- first
`);
    expect(changelogHas(rolled, '0.2.0')).toBe(true);
    expect(changelogHas(rolled, '0.2.1')).toBe(false);
  });

  it('refuses an empty Unreleased section, a missing one, and a version that has one', () => {
    expect(() => rollChangelog('# Changelog\n\n## Unreleased\n\n## 0.1.0\n', '0.2.0', 'd')).toThrow(
      /is empty/,
    );
    expect(() => rollChangelog('# Changelog\n', '0.2.0', 'd')).toThrow(/no "## Unreleased"/);
    expect(() => rollChangelog(CHANGELOG, '0.1.0', 'd')).toThrow(/already has a section/);
  });
});

describe('setVersion on a scratch workspace', () => {
  let root: string;
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  function scratch(versions: Record<string, string>): void {
    root = mkdtempSync(join(tmpdir(), 'cpgkit-release-test-'));
    writeFileSync(join(root, 'package.json'), JSON.stringify({ name: 'root', private: true }));
    writeFileSync(join(root, 'CHANGELOG.md'), CHANGELOG);
    for (const [dir, version] of Object.entries(versions)) {
      mkdirSync(join(root, 'packages', dir), { recursive: true });
      const pkg = { name: `@x/${dir}`, version, dependencies: { '@x/a': 'workspace:*' } };
      writeFileSync(join(root, 'packages', dir, 'package.json'), JSON.stringify(pkg, null, 2));
    }
  }

  it('bumps every package together and keeps their workspace ranges', () => {
    scratch({ a: '0.1.0', b: '0.1.0' });
    setVersion('0.2.0', root, new Date('2026-12-04T10:00:00Z'));
    const packages = publishedPackages(root);
    expect(packages.map((p) => p.manifest.version)).toEqual(['0.2.0', '0.2.0']);
    expect(packages[1]!.manifest.dependencies).toEqual({ '@x/a': 'workspace:*' });
    expect(readFileSync(join(root, 'CHANGELOG.md'), 'utf8')).toContain(
      '## Unreleased\n\n## 0.2.0 - 2026-12-04\n',
    );
  });

  it('refuses packages at different versions, and a version not above the current one', () => {
    scratch({ a: '0.1.0', b: '0.1.1' });
    expect(() => setVersion('0.2.0', root)).toThrow(/must share one version/);
    rmSync(root, { recursive: true, force: true });
    scratch({ a: '0.1.0', b: '0.1.0' });
    expect(() => setVersion('0.1.0', root)).toThrow(/not above/);
    expect(() => setVersion('banana', root)).toThrow(/not a version/);
    expect(publishedPackages(root).map((p) => p.manifest.version)).toEqual(['0.1.0', '0.1.0']);
  });
});

describe('the repository', () => {
  it('has one version for every published package, and a changelog section for it', () => {
    const version = commonVersion(publishedPackages(ROOT));
    expect(changelogHas(readFileSync(join(ROOT, 'CHANGELOG.md'), 'utf8'), version)).toBe(true);
  });

  it("names one repository everywhere: the root's URL, and each package's own folder", () => {
    // the URL itself is a placeholder until the project's home is decided (README, Releasing)
    const root = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
      repository: { url: string };
    };
    expect(root.repository.url).toMatch(/^git\+https:\/\/.+\.git$/);
    for (const p of publishedPackages(ROOT)) {
      expect(p.manifest.repository, p.manifest.name).toEqual({
        type: 'git',
        url: root.repository.url,
        directory: relative(ROOT, p.dir),
      });
    }
  });
});
