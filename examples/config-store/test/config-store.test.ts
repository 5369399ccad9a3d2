import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMemoryStore, type RunningStore } from '../src/cluster.js';

let store: RunningStore;
let url: (node: number) => string;

beforeAll(async () => {
  store = await startMemoryStore({ nodes: 3, seed: 11, group: 'config-store-test' });
  url = (n) => store.nodes[n - 1]!.url;
});
afterAll(async () => {
  await store?.close();
});

async function put(node: number, key: string, value: unknown, revision?: number) {
  const q = revision === undefined ? '' : `?revision=${revision}`;
  const res = await fetch(`${url(node)}/kv/${encodeURIComponent(key)}${q}`, {
    method: 'PUT',
    body: JSON.stringify(value),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function get(node: number, key: string) {
  const res = await fetch(`${url(node)}/kv/${encodeURIComponent(key)}`);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** Poll `f` until it returns true (reads are local: another node applies a write a moment later). */
async function eventually(f: () => Promise<boolean>, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await f())) {
    if (Date.now() > deadline) throw new Error('condition never held');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('config-store over HTTP, three nodes on the in-memory cluster', () => {
  it('listens on loopback only', () => {
    for (const n of store.nodes) expect(n.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('a PUT on node 1 is read on node 3', async () => {
    const w = await put(1, 'db/url', 'postgres://db1');
    expect(w.status).toBe(200);
    expect(typeof w.body.revision).toBe('number');
    await eventually(async () => (await get(3, 'db/url')).status === 200);
    const r = await get(3, 'db/url');
    expect(r.body.value).toBe('postgres://db1');
    expect(r.body.revision).toBe(w.body.revision);
    expect((await get(3, 'no/such/key')).status).toBe(404);
  });

  it('compare-and-set: the first writer wins, the second gets 409 with the current revision', async () => {
    const created = await put(2, 'feature/x', { on: false });
    const rev = created.body.revision as number;
    await eventually(async () => (await get(3, 'feature/x')).body.revision === rev);
    const first = await put(2, 'feature/x', { on: true }, rev);
    const second = await put(3, 'feature/x', { on: 'maybe' }, rev);
    expect(first.status).toBe(200);
    expect(second.status).toBe(409);
    expect(second.body.current).toBe(first.body.revision);
    await eventually(async () => (await get(1, 'feature/x')).body.revision === first.body.revision);
    expect((await get(1, 'feature/x')).body.value).toEqual({ on: true });
    // compare-and-set on an absent key (revision 0) creates it once
    expect((await put(1, 'once', 1, 0)).status).toBe(200);
    expect((await put(2, 'once', 2, 0)).status).toBe(409);
  });

  it('DELETE removes the key everywhere', async () => {
    await put(1, 'tmp', 'x');
    const res = await fetch(`${url(2)}/kv/tmp`, { method: 'DELETE' });
    expect(res.status).toBe(200);
    await eventually(
      async () => (await get(1, 'tmp')).status === 404 && (await get(3, 'tmp')).status === 404,
    );
  });

  it('the SSE watch on node 3 receives a change written on node 1', async () => {
    const controller = new AbortController();
    const res = await fetch(`${url(3)}/watch?prefix=app/`, { signal: controller.signal });
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = '';
    const readUntil = async (needle: string) => {
      while (!text.includes(needle)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`stream ended before ${needle}`);
        text += value;
      }
    };
    await readUntil('event: ready');
    await put(1, 'other/key', 'ignored');
    const w = await put(1, 'app/color', 'green');
    await readUntil('"app/color"');
    controller.abort();
    const changes = text
      .split('\n\n')
      .filter((block) => block.startsWith('event: change'))
      .map((block) => JSON.parse(block.split('\ndata: ')[1]!) as Record<string, unknown>);
    expect(changes).toEqual([
      expect.objectContaining({
        type: 'set',
        key: 'app/color',
        value: 'green',
        revision: w.body.revision,
      }),
    ]);
  });

  it('every node ends with the same state digest', async () => {
    await eventually(async () => {
      const s = await Promise.all(
        [1, 2, 3].map(
          async (n) => (await (await fetch(`${url(n)}/status`)).json()) as { digest: string },
        ),
      );
      return s.every((x) => x.digest === s[0]!.digest);
    });
  });
});
