/**
 * The README's `npm run example:statemachine`, run as a user runs it (npm, from the repository
 * root; the example's start script runs in its folder) on the in-memory cluster: every node reaches
 * `live` with equal state digests, and the process exits 0.
 */
import { describe, expect, it } from 'vitest';
import { exampleDir, readmeCommand, runExample } from '../../readme-start.js';

const EXAMPLE = exampleDir(import.meta.url);

describe('the statemachine example as its README runs it', () => {
  it('DEPLOY, BUILT, 5 s of canary, then live on all three nodes with equal digests; exit 0', async () => {
    const { code, out } = await runExample(await readmeCommand(EXAMPLE), [], 60_000);
    expect(code, out).toBe(0);
    for (const n of [1, 2, 3]) expect(out).toMatch(new RegExp(`node ${n}: live v2`));
    expect(out).toMatch(/ANNOUNCE v2 is live \(executor only\)/);
    expect(out.trimEnd().split('\n').at(-1)).toMatch(/ all live; state digests equal$/);
  }, 90_000);
});
