/**
 * The live view of `cpgkit serve --http`: this agent's replicas observed as they change, and
 * the other agents' reports asked for on the status channel (as `cpgkit status` does) every
 * `PEERS_MS` while someone watches; the summary is `cpgkit status --json`'s, from this node.
 * @module
 */
import type { Agent } from '../agent/agent.js';
import type { GroupNames } from '../agent/group-names.js';
import { buildReport, REPORT_VERSION, type AgentReport } from '../agent/report.js';
import { summarize, type StatusSummary } from '../agent/status-summary.js';
import type { Replicas } from '../agent/types.js';
import { LiveState } from './live-state.js';
import { observeNode, Seen } from './observe-node.js';

/** How often the other agents are asked for their reports while someone watches (ms). */
export const PEERS_MS = 2000;

/** The live state of `agent` (group `names`), until `close()`. */
export function agentLiveState(
  agent: Agent,
  names: GroupNames,
): { readonly live: LiveState; close(): void } {
  let replicas: Replicas | undefined;
  let nodeid = 0;
  let ring: readonly number[] | undefined;
  let peers: readonly AgentReport[] = [];
  const live = new LiveState({
    title: `cpgkit serve --group ${names.store}`,
    summarize: () => summary(),
  });
  const seen = new Seen();

  function summary(): StatusSummary {
    const own: AgentReport =
      replicas === undefined
        ? {
            v: REPORT_VERSION,
            nodeid,
            pid: process.pid,
            hostname: '',
            state: agent.state.kind,
            ...(agent.state.kind === 'connecting' ? { reason: agent.state.reason } : {}),
            reconnects: agent.reconnects,
            store: null,
            locks: null,
          }
        : buildReport(agent, replicas);
    const others = peers.filter((p) => p.nodeid !== own.nodeid || p.pid !== own.pid);
    const store = replicas?.transports.store;
    return summarize({
      group: names.store,
      groups: { store: names.store, locks: names.locks, agents: names.agents },
      cluster: {
        nodeid,
        quorate: store?.quorate ?? false,
        nodes:
          ring ?? [...new Set((store?.members() ?? []).map((m) => m.nodeid))].sort((a, b) => a - b),
        votequorum: null,
      },
      reports: [own, ...others],
      silent: [],
      now: new Date(),
    });
  }

  const offConnect = agent.onConnect((r) => {
    replicas = r;
    nodeid = r.kv.machine.self.nodeid;
    const offTotem = r.transports.store.on('totem', (e) => {
      ring = e.nodes;
      live.invalidate();
    });
    const offNode = observeNode(
      live,
      {
        kv: r.kv,
        locks: r.locks,
        observers: r.observers,
        groups: { store: names.store, locks: names.locks },
      },
      seen,
    );
    live.invalidate();
    return () => {
      offTotem();
      offNode();
      if (replicas === r) replicas = undefined;
    };
  });
  const offState = agent.onState((s) => {
    if (s.kind === 'running') return; // the connection's own events say the rest
    live.event({
      kind: 'agent',
      node: nodeid || null,
      text: s.kind === 'connecting' ? `agent reconnecting: ${s.reason}` : 'agent stopped',
    });
  });
  let asking = false;
  let last = -Infinity;
  // a new viewer gets the others' reports at once, then every PEERS_MS
  const poll = setInterval(() => {
    if (live.viewers === 0) last = -Infinity;
    if (live.viewers === 0 || asking || performance.now() - last < PEERS_MS) return;
    asking = true;
    last = performance.now();
    agent
      .askAgents(PEERS_MS * 0.75)
      .then((r) => {
        peers = r;
        live.invalidate();
      })
      .catch(() => undefined) // not connected: the page says so through the own report
      .finally(() => (asking = false));
  }, 200);
  poll.unref();
  return {
    live,
    close() {
      clearInterval(poll);
      offConnect();
      offState();
      live.close();
    },
  };
}
