/**
 * The README's `pnpm --filter @cpgkit/example-config-store start`, run as that script runs it
 * (tsx on src/main.ts in the example's folder) on the in-memory cluster, with `--port 0` (the
 * README's ports 8081-8083 may be taken on a shared machine): the README's requests get the
 * README's answers, and Ctrl-C (SIGINT to the process group) stops it with exit 0.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const EXAMPLE = fileURLToPath(new URL('..', import.meta.url));
const TSX = fileURLToPath(new URL('../../../node_modules/.bin/tsx', import.meta.url));

interface Pkg {
  name: string;
  scripts: Record<string, string>;
}

/** The start script's arguments after `tsx`, checked against what the README tells users to run. */
async function startArgs(): Promise<string[]> {
  const pkg = JSON.parse(await readFile(join(EXAMPLE, 'package.json'), 'utf8')) as Pkg;
  const readme = await readFile(join(EXAMPLE, 'README.md'), 'utf8');
  expect(readme).toContain(`pnpm --filter ${pkg.name} start`);
  const [bin, ...args] = pkg.scripts.start!.split(' ');
  expect(bin).toBe('tsx');
  expect(args.at(-1)).toBe('src/main.ts');
  return args;
}

interface Server {
  readonly child: ChildProcess;
  readonly urls: string[];
  readonly exited: Promise<number | null>;
  out(): string;
}

/** Start the example and wait for its `ready` line; killed (the whole group) after `limitMs`. */
async function start(args: string[], limitMs: number): Promise<Server> {
  const child = spawn(TSX, args, { cwd: EXAMPLE, detached: true, stdio: 'pipe' });
  let out = '';
  const timer = setTimeout(() => {
    out += `\n[killed after ${limitMs} ms]`;
    process.kill(-child.pid!, 'SIGKILL');
  }, limitMs);
  const exited = new Promise<number | null>((resolve) =>
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve(code);
    }),
  );
  await new Promise<void>((resolve, reject) => {
    const onData = (c: Buffer): void => {
      out += c.toString();
      if (out.includes('ready; Ctrl-C to stop\n')) resolve();
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    void exited.then(() => reject(new Error(`exited before it was ready:\n${out}`)));
  });
  const urls = [
    ...out.matchAll(/^node (\d): (http:\/\/127\.0\.0\.1:\d+) {2}\(in-memory cluster\)$/gm),
  ].map((m) => m[2]!);
  return { child, urls, exited, out: () => out };
}

async function call(url: string, method = 'GET', body?: string) {
  const res = await fetch(url, { method, ...(body === undefined ? {} : { body }) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('the config-store example as its README runs it', () => {
  it("three nodes over HTTP: the README's requests get its answers; Ctrl-C exits 0", async () => {
    const server = await start([...(await startArgs()), '--port', '0'], 60_000);
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
    expect(await server.exited, server.out()).toBe(0);
  }, 90_000);
});
