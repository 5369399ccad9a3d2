/**
 * Feed one node's replicas into a `LiveState`: what its observers see (status, sync rounds,
 * quorum, digest mismatches), the members its store replica sees, and the replicated changes
 * (grants, releases, losses, leaders, store writes). A replicated change is the same on every
 * node: `Seen` lets several nodes of one process report it once.
 * @module
 */
import { lockEvents } from '../agent/lock-events.js';
import type { MachineLabel } from '../agent/observer.js';
import type { ReportSource } from '../agent/report.js';
import type { LiveState } from './live-state.js';

/** Keys of the replicated changes already reported (bounded: the oldest are forgotten). */
export class Seen {
  readonly #keys = new Set<string>();
  readonly #max: number;

  constructor(max = 10_000) {
    this.#max = max;
  }

  /** True the first time `key` is offered. */
  first(key: string): boolean {
    if (this.#keys.has(key)) return false;
    this.#keys.add(key);
    if (this.#keys.size > this.#max) {
      const oldest = this.#keys.values().next().value;
      if (oldest !== undefined) this.#keys.delete(oldest);
    }
    return true;
  }
}

const who = (o: { readonly nodeid: number; readonly pid: number }): string =>
  `${o.nodeid}:${o.pid}`;

/** Report `node`'s events and changes to `live` until the returned function is called. */
export function observeNode(live: LiveState, node: ReportSource, seen: Seen): () => void {
  const nodeid = node.kv.machine.self.nodeid;
  const stop = new AbortController();
  const offs: (() => void)[] = [];
  for (const label of ['store', 'locks'] as const) offs.push(observeMachine(live, node, label));
  offs.push(
    node.kv.machine.subscribe((c) => {
      if (c.kind !== 'membership') return;
      const left = c.change.left.map(who).join(' ');
      live.event({
        kind: 'membership',
        node: nodeid,
        text: `members ${c.change.members.map(who).join(' ') || '-'}${left ? `; left ${left}` : ''}`,
      });
    }),
  );
  let prev = node.locks.state;
  offs.push(
    node.locks.subscribe((c) => {
      const next = c.state;
      if (next === prev) return;
      for (const e of lockEvents(prev, next, c.kind !== 'command')) {
        const owner = { nodeid: e.owner.nodeid, pid: e.owner.pid };
        if (e.event === 'leader-elected' || e.event === 'leader-ended') {
          if (!seen.first(`${e.event}/${e.name}/${e.term}`)) continue;
          live.event({
            kind: e.event,
            node: null,
            name: e.name,
            token: e.term,
            owner,
            text: `${e.event === 'leader-elected' ? 'leader elected' : 'leadership ended'}: '${e.name}' term ${e.term}, ${who(owner)}`,
          });
        } else {
          // a release seen live and the same end seen as a loss in a snapshot are one event
          const end = e.event === 'lock-granted' ? 'granted' : 'ended';
          if (!seen.first(`${end}/${e.name}/${e.token}/${e.owner.incarnation}`)) continue;
          const verb =
            e.event === 'lock-granted' ? 'granted' : e.event === 'lock-lost' ? 'lost' : 'released';
          live.event({
            kind: e.event,
            node: null,
            name: e.name,
            token: e.token,
            owner,
            text: `lock '${e.name}' ${verb}: token ${e.token}, ${who(owner)}`,
          });
        }
      }
      prev = next;
      live.invalidate();
    }),
  );
  void (async () => {
    for await (const c of node.kv.watch('', { signal: stop.signal })) {
      if (!seen.first(`store/${c.revision}/${c.type}/${c.key}`)) continue;
      live.change({
        type: c.type,
        key: c.key,
        revision: c.revision,
        ...(c.value === undefined ? {} : { value: c.value }),
      });
    }
  })().catch(() => undefined); // aborted, or the replica closed
  return () => {
    stop.abort();
    for (const off of offs) off();
  };
}

function observeMachine(live: LiveState, node: ReportSource, label: MachineLabel): () => void {
  const m = label === 'store' ? node.kv.machine : node.locks;
  const nodeid = node.kv.machine.self.nodeid;
  return node.observers[label].on((e) => {
    switch (e.type) {
      case 'status':
        live.event({
          kind: 'status',
          node: nodeid,
          text: `${label} ${e.previous} → ${e.status} (epoch ${m.epoch}, index ${m.index})`,
        });
        break;
      case 'round':
        live.event({
          kind: 'sync',
          node: nodeid,
          text: `${label} sync round done in ${Math.round(e.ms)} ms (epoch ${m.epoch}, index ${m.index})`,
        });
        break;
      case 'quorum':
        // both machines hear the same quorum: say it once
        if (label === 'store')
          live.event({
            kind: 'quorum',
            node: nodeid,
            text: e.quorate ? 'quorum regained' : 'quorum lost',
          });
        break;
      case 'mismatch':
        live.event({
          kind: 'mismatch',
          node: nodeid,
          text: `${label}: digest mismatch at epoch ${e.epoch} index ${e.index} with ${who(e.from)}: resyncing`,
        });
        break;
      default:
        live.invalidate();
    }
  });
}
