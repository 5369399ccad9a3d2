/**
 * The README's `npm run example:locks`, run as a user runs it (npm, from the repository
 * root; the example's start script runs in its folder) on the in-memory cluster: it must end with no update
 * lost and exit 0.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { exampleDir, readmeCommand, runExample } from '../../readme-start.js';

const EXAMPLE = exampleDir(import.meta.url);

describe('the locks example as its README runs it', () => {
  it('3 workers x 10 increments on the in-memory cluster: no update lost, exit 0', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cpgkit-example-locks-'));
    try {
      // --file (the README's flag): not the shared default file in $TMPDIR
      const { code, out } = await runExample(
        await readmeCommand(EXAMPLE),
        ['--file', join(dir, 'c.json')],
        60_000,
      );
      expect(code, out).toBe(0);
      expect(out.trimEnd().split('\n').at(-1)).toBe('counter 0 -> 30; expected 30: no update lost');
      expect(out).toMatch(/runs the backup \(tryAcquire got the lock\)/);
      expect(out).toMatch(/uploading with permit/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 90_000);
});
