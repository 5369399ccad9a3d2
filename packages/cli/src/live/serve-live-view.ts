/**
 * `serveLiveView`: the live view of nodes that live in this process (the in-memory demo, tests,
 * an application on `embeddedCluster()`): the same page and model as `cpgkit serve --http`,
 * each node reported as an agent would report itself.
 * @module
 */
import type { LocksStateMachine } from '@cpgkit/locks';
import type { ReplicatedMap } from '@cpgkit/statemachine';
import { httpUrl, listen } from '../agent/http.js';
import { MachineObserver } from '../agent/observer.js';
import { reportOf, type ReportSource } from '../agent/report.js';
import { summarize } from '../agent/status-summary.js';
import { LiveState } from './live-state.js';
import { observeNode, Seen } from './observe-node.js';
import { liveViewHandler } from './web.js';

/** One node's replicas: a config store and a lock machine (`Locks.machine`). */
export interface LiveViewNode {
  readonly kv: ReplicatedMap;
  readonly locks: LocksStateMachine;
}

/** Options of `serveLiveView`. */
export interface LiveViewOptions {
  /** The nodes to show (one replica of each machine per node). */
  readonly nodes: readonly LiveViewNode[];
  /** The page's title. @defaultValue 'cpgkit: N nodes in this process' */
  readonly title?: string;
  /** The CPG group names of the store and the lock machine, as the page shows them. */
  readonly groups?: { readonly store: string; readonly locks: string };
  /** @defaultValue '127.0.0.1' */
  readonly host?: string;
  /** 0 picks a free port. @defaultValue 0 */
  readonly port?: number;
}

/** A live view being served. */
export interface LiveView {
  /** The page's address, e.g. `http://127.0.0.1:41234/`. */
  readonly url: string;
  /** Stop serving and observing (the nodes stay open). Idempotent. */
  close(): Promise<void>;
}

/**
 * Serve the live view (a web page updated live over server-sent events, `/api/state` as JSON)
 * of `options.nodes`, which live in this process. The page shows the nodes and quorum, the
 * replicas (epoch, index, digest agreement), the leaders, the locks with holders and queues,
 * the store's recent changes and an event stream.
 *
 * @example
 * ```ts
 * const view = await serveLiveView({
 *   nodes: [{ kv: map1, locks: locks1.machine }, { kv: map2, locks: locks2.machine }],
 * });
 * console.log(`live view: ${view.url}`);
 * await view.close();
 * ```
 */
export async function serveLiveView(options: LiveViewOptions): Promise<LiveView> {
  const groups = options.groups ?? { store: '', locks: '' };
  const sources: ReportSource[] = options.nodes.map((n) => ({
    kv: n.kv,
    locks: n.locks,
    groups,
    observers: {
      store: new MachineObserver('store', n.kv.machine),
      locks: new MachineObserver('locks', n.locks),
    },
  }));
  const live = new LiveState({
    title: options.title ?? `cpgkit: ${options.nodes.length} nodes in this process`,
    summarize: () => summarizeNodes(sources, groups),
  });
  const seen = new Seen();
  const offs = sources.map((s) => observeNode(live, s, seen));
  const handler = liveViewHandler(live);
  const server = await listen(
    { host: options.host ?? '127.0.0.1', port: options.port ?? 0 },
    (req, res) => {
      if (!handler.handle(req, res))
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /\n');
    },
  );
  let closed: Promise<void> | undefined;
  return {
    url: httpUrl(server.address),
    close() {
      closed ??= (async () => {
        for (const off of offs) off();
        for (const s of sources) {
          s.observers.store.close();
          s.observers.locks.close();
        }
        live.close();
        handler.close();
        await server.close();
      })();
      return closed;
    },
  };
}

/** The status summary of nodes of this process (`cluster.nodeid` 0: no one node's view). */
function summarizeNodes(
  sources: readonly ReportSource[],
  groups: { readonly store: string; readonly locks: string },
): ReturnType<typeof summarize> {
  const reports = sources.map((s) =>
    reportOf(
      { state: { kind: s.kv.status === 'closed' ? 'stopped' : 'running' }, reconnects: 0 },
      s,
      s.kv.machine.self.pid,
    ),
  );
  const up = sources.filter((s) => s.kv.status !== 'closed');
  return summarize({
    group: groups.store,
    groups: { ...groups, agents: '' },
    cluster: {
      nodeid: 0,
      quorate: up.some((s) => s.kv.status === 'ready'),
      nodes: [...new Set(up.map((s) => s.kv.machine.self.nodeid))].sort((a, b) => a - b),
      votequorum: null,
    },
    reports,
    silent: [],
    now: new Date(),
  });
}
