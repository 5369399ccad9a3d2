/**
 * The README's `npm run example:config-store`, run as a user runs it (npm, from the repository
 * root) on the in-memory cluster, with `-- --port 0` (the README's ports 8081-8083 may be taken
 * on a shared machine): the README's requests get the README's answers, and Ctrl-C (SIGINT to
 * the process group) stops every process of it, the example exiting 0.
 */
import { describe, expect, it } from 'vitest';
import {
  exampleDir,
  readmeCommand,
  startExample,
  type ReadmeCommand,
  type Started,
} from '../../readme-start.js';

const EXAMPLE = exampleDir(import.meta.url);

/** Start the example and wait for its `ready` line; its node URLs from what it printed. */
async function start(
  command: ReadmeCommand,
  args: string[],
  limitMs: number,
): Promise<Started & { urls: string[] }> {
  const server = startExample(command, args, limitMs);
  await new Promise<void>((resolve, reject) => {
    server.child.stdout!.on('data', () => {
      if (server.out().includes('ready; Ctrl-C to stop\n')) resolve();
    });
    void server.exited.then(() =>
      reject(new Error(`exited before it was ready:\n${server.out()}`)),
    );
  });
  const urls = [
    ...server.out().matchAll(/^node (\d): (http:\/\/127\.0\.0\.1:\d+) {2}\(in-memory cluster\)$/gm),
  ].map((m) => m[2]!);
  return { ...server, urls };
}

async function call(url: string, method = 'GET', body?: string) {
  const res = await fetch(url, { method, ...(body === undefined ? {} : { body }) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('the config-store example as its README runs it', () => {
  it("three nodes over HTTP: the README's requests get its answers; Ctrl-C stops it, the example exiting 0", async () => {
    const server = await start(await readmeCommand(EXAMPLE), ['--port', '0'], 60_000);
    try {
      expect(server.urls, server.out()).toHaveLength(3);
      const [n1, n2, n3] = server.urls as [string, string, string];
      expect(await call(`${n1}/kv/db/url`, 'PUT', '"postgres://db1"')).toEqual({
        status: 200,
        body: { key: 'db/url', revision: 1 },
      });
      // reads are local: node 3 applies the write a moment later
      const deadline = Date.now() + 5000;
      let read = await call(`${n3}/kv/db/url`);
      while (read.status === 404 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
        read = await call(`${n3}/kv/db/url`);
      }
      expect(read.body).toEqual({
        key: 'db/url',
        value: 'postgres://db1',
        revision: 1,
        createRevision: 1,
        version: 1,
        size: 22,
        stale: false,
      });
      expect(await call(`${n2}/kv/db/url?revision=0`, 'PUT', '"x"')).toEqual({
        status: 409,
        body: { error: "compare failed on key 'db/url' at revision 1", key: 'db/url', current: 1 },
      });
      expect((await call(`${n1}/kv/db/url`, 'DELETE')).status).toBe(200);
      expect((await call(`${n1}/status`)).body).toMatchObject({ node: 1, status: 'ready' });
    } finally {
      process.kill(-server.child.pid!, 'SIGINT'); // Ctrl-C: the terminal signals the whole group
    }
    // npm ends itself with the SIGINT of Ctrl-C (130, as a shell says) whatever the script's
    // own exit code; scripts/example.mjs says so on stderr when the example exits non-zero
    expect(await server.exited, server.out()).toBe(130);
    expect(server.out()).not.toMatch(/exited with code/);
  }, 90_000);
});
