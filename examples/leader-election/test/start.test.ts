/**
 * The README's `npm run example:leader-election`, run as a user runs it (npm, from the repository
 * root; the example's start script runs in its folder) on the in-memory cluster: a leader runs the job,
 * its node crashes, another node takes over with a newer term, and the process exits 0.
 */
import { describe, expect, it } from 'vitest';
import { exampleDir, readmeCommand, runExample } from '../../readme-start.js';

const EXAMPLE = exampleDir(import.meta.url);

describe('the leader-election example as its README runs it', () => {
  it('the leader runs the job, its node crashes, a standby takes over with a newer term; exit 0', async () => {
    const { code, out } = await runExample(await readmeCommand(EXAMPLE), [], 60_000);
    expect(code, out).toBe(0);
    const crash = /\*\*\* crashing node (\d) \(the leader's\) \*\*\*/.exec(out);
    expect(crash, out).not.toBeNull();
    const crashed = Number(crash![1]);
    const [before, after] = [out.slice(0, crash!.index), out.slice(crash!.index)];
    const elected = (text: string) =>
      [...text.matchAll(/node (\d): elected \(term (\d+)\)/g)].map((m) => ({
        node: Number(m[1]),
        term: BigInt(m[2]!),
      }));
    const first = elected(before);
    expect(
      first.map((e) => e.node),
      out,
    ).toEqual([crashed]);
    expect(before).toMatch(new RegExp(`node ${crashed}: runs the job`));
    const next = elected(after);
    expect(next.length, out).toBeGreaterThanOrEqual(1);
    expect(next[0]!.node).not.toBe(crashed);
    expect(next[0]!.term).toBeGreaterThan(first[0]!.term);
    expect(after).toMatch(new RegExp(`node ${next[0]!.node}: runs the job`));
  }, 90_000);
});
