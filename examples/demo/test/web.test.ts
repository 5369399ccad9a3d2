/**
 * `npm run demo -- --web`: the demo serves the live view of its in-memory cluster (the page of
 * `cpgkit serve --http`, through `serveLiveView`), prints its URL, tells its story, and keeps
 * the page up until Ctrl-C. Checked over HTTP here; the page itself is driven in chromium by
 * packages/cli/test/live-view.browser.test.ts.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

interface State {
  title: string;
  status: {
    agents: { nodeid: number }[];
    locks: { elections: { name: string; leader: { nodeid: number } | null }[] };
  };
  changes: { key: string }[];
  events: { kind: string }[];
}

describe('the demo with --web', () => {
  it('prints the live view URL, serves the cluster there during and after the story, and exits 0 on Ctrl-C', async () => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', '--conditions=@cpgkit/source', 'examples/demo/src/main.ts'].concat([
        '--memory',
        '--fast',
        '--web',
      ]),
      { cwd: ROOT, env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    const changed = new Set<() => void>();
    child.stdout.on('data', (b: Buffer) => {
      stdout += b.toString();
      for (const f of [...changed]) f();
    });
    child.stderr.on('data', (b: Buffer) => {
      stderr += b.toString();
      for (const f of [...changed]) f();
    });
    const exited = new Promise<number | null>((resolve) =>
      child.on('exit', (code) => resolve(code)),
    );
    const until = (pred: () => boolean, what: string): Promise<void> =>
      new Promise((resolve, reject) => {
        const t = setTimeout(() => {
          changed.delete(check);
          reject(new Error(`${what}: not seen in 80 s\nstdout:\n${stdout}\nstderr:\n${stderr}`));
        }, 80_000);
        function check(): void {
          if (!pred()) return;
          clearTimeout(t);
          changed.delete(check);
          resolve();
        }
        changed.add(check);
        check();
      });
    try {
      await until(() => /live view: http:\/\/127\.0\.0\.1:\d+\//.test(stdout), 'the URL');
      const url = /live view: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(stdout)![1]!;
      const early = (await (await fetch(`${url}api/state`)).json()) as State;
      expect(early.title).toBe('cpgkit demo: 3 nodes in memory');
      expect(early.status.agents.map((a) => a.nodeid)).toEqual([1, 2, 3]);
      expect((await fetch(url)).headers.get('content-type')).toMatch(/^text\/html/);

      await until(() => /"converged":true/.test(stdout), 'the summary line');
      await until(() => /the live view stays up at http/.test(stderr), 'the stays-up notice');
      // the story's last line is still the JSON summary (scripts read it)
      expect(JSON.parse(stdout.trimEnd().split('\n').at(-1)!)).toMatchObject({ converged: true });
      const after = (await (await fetch(`${url}api/state`)).json()) as State;
      const kinds = new Set(after.events.map((e) => e.kind));
      for (const k of ['leader-elected', 'leader-ended', 'lock-granted', 'membership'])
        expect(kinds, k).toContain(k);
      expect(after.changes.length).toBeGreaterThan(0);
      expect(after.status.locks.elections[0]?.leader).not.toBeNull();

      child.kill('SIGINT');
      expect(await exited).toBe(0);
    } finally {
      child.kill('SIGKILL');
    }
  }, 120_000);
});
