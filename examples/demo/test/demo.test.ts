import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const TSX = fileURLToPath(new URL('../../../node_modules/.bin/tsx', import.meta.url));

/** Run the demo as a user would (as a child process, stdout not a TTY); resolve with its stdout. */
function runDemo(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      TSX,
      ['--conditions=@cpgkit/source', 'examples/demo/src/main.ts', ...args],
      { cwd: ROOT, timeout: 60_000, env: { ...process.env, NO_COLOR: '1' } },
      (err, stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

interface Summary {
  transport: string;
  nodes: number;
  leaderChanges: number;
  lockGrants: number;
  configWrites: number;
  converged: boolean;
}

describe('the demo', () => {
  it('runs the 3-node story on the in-memory cluster and ends with a JSON summary line', async () => {
    // --memory: a corosync cluster may be up on this machine; the test wants the embedded one
    const { code, stdout, stderr } = await runDemo(['--memory', '--fast']);
    expect(code, stderr).toBe(0);
    const lines = stdout.trimEnd().split('\n');
    const summary = JSON.parse(lines.at(-1)!) as Summary;
    expect(Object.keys(summary)).toEqual([
      'transport',
      'nodes',
      'leaderChanges',
      'lockGrants',
      'configWrites',
      'converged',
    ]);
    expect(summary.transport).toBe('memory');
    expect(summary.nodes).toBe(3);
    expect(summary.leaderChanges).toBeGreaterThanOrEqual(1);
    expect(summary.lockGrants).toBeGreaterThanOrEqual(2);
    expect(summary.configWrites).toBeGreaterThanOrEqual(1);
    expect(summary.converged).toBe(true);
    // not a TTY: plain lines, no escape codes; the story's acts are all there
    expect(stdout).not.toContain('\x1b');
    for (const act of ['1/5', '2/5', '3/5', '4/5', '5/5']) expect(stdout).toContain(`── ${act} `);
    // the minority refused the write, with the typed error
    expect(stdout).toMatch(/node \d\s+write refused: NoQuorumError/);
  }, 70_000);
});
