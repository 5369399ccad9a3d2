/**
 * The live view's server without a browser, on the in-memory cluster in real time: what
 * `cpgkit serve --http` serves (its own replicas observed, the other agents asked on the status
 * channel) and what `serveLiveView` serves for nodes of this process: the page's files,
 * `/api/state`, the server-sent events of `/events`, replicated events reported once.
 * (live-view.browser.test.ts drives the page itself in chromium.)
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MemoryCluster } from '@cpgkit/core/testing';
import { Locks } from '@cpgkit/locks';
import { ReplicatedMap } from '@cpgkit/statemachine';
import { Agent } from '../src/agent/agent.js';
import { groupNames } from '../src/agent/group-names.js';
import { health } from '../src/agent/health.js';
import { httpUrl, startHttp } from '../src/agent/http.js';
import { createLogger } from '../src/agent/logger.js';
import { agentMetrics } from '../src/agent/metrics.js';
import type { LiveEvent, LiveSnapshot, StoreChange } from '../src/live/live-state.js';
import { agentLiveState } from '../src/live/agent-view.js';
import { serveLiveView } from '../src/live/serve-live-view.js';
import { liveViewHandler } from '../src/live/web.js';
import type { StatusSummary } from '../src/agent/status-summary.js';
import { agentReady, cpgkitOn, LogLines, startAgent } from './memory-agents.js';

const GROUP = 'cli-live-test';
const WAIT_MS = 30_000;

/** The server-sent events of `url`, parsed, as they come. */
class EventStream {
  readonly events: { type: string; data: unknown }[] = [];
  readonly #ctl = new AbortController();
  readonly #waiters = new Set<() => void>();
  readonly done: Promise<void>;

  constructor(url: string) {
    this.done = this.#read(url).catch(() => undefined);
  }

  async #read(url: string): Promise<void> {
    const res = await fetch(url, { signal: this.#ctl.signal });
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const decoder = new TextDecoder();
    let buf = '';
    for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
      buf += decoder.decode(chunk, { stream: true });
      let at: number;
      while ((at = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, at);
        buf = buf.slice(at + 2);
        const type = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (type !== undefined && data !== undefined)
          this.events.push({ type, data: JSON.parse(data) as unknown });
      }
      for (const w of [...this.#waiters]) w();
    }
  }

  /** The first event (from the start) for which `pred` holds. */
  async find<T>(type: string, pred: (data: T) => boolean = () => true): Promise<T> {
    const deadline = performance.now() + WAIT_MS;
    for (;;) {
      const e = this.events.find((x) => x.type === type && pred(x.data as T));
      if (e !== undefined) return e.data as T;
      if (performance.now() > deadline)
        throw new Error(`no '${type}' event as expected in ${WAIT_MS} ms`);
      await new Promise<void>((resolve) => {
        const w = (): void => {
          this.#waiters.delete(w);
          clearTimeout(t);
          resolve();
        };
        const t = setTimeout(w, 200);
        this.#waiters.add(w);
      });
    }
  }

  close(): void {
    this.#ctl.abort();
  }
}

describe('the live view of cpgkit serve --http (agents on the in-memory cluster)', () => {
  let cluster: MemoryCluster;
  let agents: Agent[];

  beforeEach(() => {
    cluster = new MemoryCluster({ nodes: 3, seed: 23, realTime: true });
    vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  });

  afterEach(async () => {
    vi.restoreAllMocks();
    await Promise.all(agents.map((a) => a.stop()));
    cluster.destroy();
  });

  it('serves the page, /api/state and /events: every agent (asked on the status channel), store changes as they happen', async () => {
    const names = groupNames(GROUP);
    // node 1's agent as `cpgkit serve --http` wires it: the view before the agent starts
    const agent = new Agent({
      names,
      open: () => cluster.member(1),
      log: createLogger('json', false, new LogLines()),
      backoff: 20,
    });
    const view = agentLiveState(agent, names);
    const web = liveViewHandler(view.live);
    const http = await startHttp(
      { host: '127.0.0.1', port: 0 },
      () => health(agent.state),
      agentMetrics(agent),
      (req, res) => web.handle(req, res),
    );
    agent.start();
    agents = [agent, ...[2, 3].map((n) => startAgent(cluster, n, GROUP).agent)];
    await Promise.all(agents.map((a) => agentReady(a)));
    const url = httpUrl(http.address);
    const stream = new EventStream(`${url}events`);
    try {
      const page = await fetch(url);
      expect(page.headers.get('content-type')).toMatch(/^text\/html/);
      expect(await page.text()).toContain('<script src="app.js"></script>');
      for (const f of ['app.js', 'style.css']) expect((await fetch(`${url}${f}`)).status).toBe(200);
      expect((await fetch(`${url}healthz`)).status).toBe(200);
      const missing = await fetch(`${url}nope`);
      expect(missing.status).toBe(404);
      expect(await missing.text()).toMatch(/the live view/);

      const first = await stream.find<LiveSnapshot>('snapshot');
      expect(first.title).toBe(`cpgkit serve --group ${GROUP}`);
      expect(first.status.cluster.nodeid).toBe(1);
      // the other agents' reports arrive through the status channel, as cpgkit status's
      const all = await stream.find<StatusSummary>('status', (s) => s.agents.length === 3);
      expect(all.agents.map((a) => a.nodeid).sort()).toEqual([1, 2, 3]);
      expect(all.store.digestsAgree).toBe(true);
      expect(all.problems).toEqual([]);

      expect(
        (await cpgkitOn(cluster, 2, ['kv', 'set', '--group', GROUP, 'web/k', '"v"'])).code,
      ).toBe(0);
      const change = await stream.find<StoreChange>('change', (c) => c.key === 'web/k');
      expect(change).toMatchObject({ type: 'set', value: 'v', revision: 1 });
      // the client's join made a membership event on node 1
      await stream.find<LiveEvent>('event', (e) => e.kind === 'membership' && e.node === 1);

      // the summary follows (the others' reports are asked again every 2 s)
      await stream.find<StatusSummary>(
        'status',
        (s) => s.store.revision === 1 && s.agents.length === 3,
      );
      const state = (await (await fetch(`${url}api/state`)).json()) as LiveSnapshot;
      expect(state.changes.map((c) => c.key)).toContain('web/k');
    } finally {
      stream.close();
      view.close();
      web.close();
      await http.close();
    }
  }, 120_000);
});

describe('serveLiveView (nodes of this process)', () => {
  it('reports a replicated event once, whatever the number of nodes that apply it', async () => {
    const cluster = new MemoryCluster({ nodes: 3, seed: 29, realTime: true });
    const nodes: { kv: ReplicatedMap; locks: Locks }[] = [];
    for (const n of [1, 2, 3])
      nodes.push({
        kv: await ReplicatedMap.open(cluster.member(n), { groupName: 'once.config' }),
        locks: await Locks.open(cluster.member(n), { groupName: 'once.locks' }),
      });
    await Promise.all(nodes.flatMap((n) => [n.kv.ready(), n.locks.machine.ready()]));
    const view = await serveLiveView({
      nodes: nodes.map((n) => ({ kv: n.kv, locks: n.locks.machine })),
    });
    const stream = new EventStream(`${view.url}events`);
    try {
      await stream.find<LiveSnapshot>('snapshot');
      const lock = await nodes[1]!.locks.acquire('once');
      await nodes[2]!.kv.set('once/k', 1);
      await stream.find<LiveEvent>('event', (e) => e.kind === 'lock-granted');
      await stream.find<StoreChange>('change', (c) => c.key === 'once/k');
      await lock.release();
      await stream.find<LiveEvent>('event', (e) => e.kind === 'lock-released');
      // every node applied them; a marker write after them, then count
      await nodes[0]!.kv.set('once/marker', 2);
      await stream.find<StoreChange>('change', (c) => c.key === 'once/marker');
      const state = (await (await fetch(`${view.url}api/state`)).json()) as LiveSnapshot;
      const kinds = state.events.map((e) => e.kind);
      expect(kinds.filter((k) => k === 'lock-granted')).toHaveLength(1);
      expect(kinds.filter((k) => k === 'lock-released')).toHaveLength(1);
      expect(state.changes.filter((c) => c.key === 'once/k')).toHaveLength(1);
      expect(state.status.agents).toHaveLength(3);
      expect(state.status.cluster).toMatchObject({ nodeid: 0, quorate: true, nodes: [1, 2, 3] });
      const granted = state.events.find((e) => e.kind === 'lock-granted')!;
      expect(granted).toMatchObject({ node: null, name: 'once', token: lock.token.toString() });
    } finally {
      stream.close();
      await view.close();
      await Promise.allSettled(nodes.flatMap((n) => [n.locks.close(), n.kv.close()]));
      cluster.destroy();
    }
  }, 120_000);
});
