/** `cpgkit --version` prints the version of the installed @cpgkit/cli (its package.json). */
import { readFile } from 'node:fs/promises';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { main, VERSION } from '../src/main.js';

describe('cpgkit --version', () => {
  afterEach(() => vi.restoreAllMocks());

  it.each([['--version'], ['-V']])('%s prints the package version and exits 0', async (flag) => {
    const pkg = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')) as {
      version: string;
    };
    let out = '';
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      out += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
      return true;
    });
    expect(await main([flag])).toBe(0);
    expect(VERSION).toBe(pkg.version);
    expect(out).toBe(`${pkg.version}\n`);
  });
});
