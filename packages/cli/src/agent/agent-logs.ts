/**
 * The agent's log lines for every state change: status of each replica (sync decided, ready,
 * minority), quorum lost or regained, digest mismatches, foreign messages, and the lock
 * machine's grants, releases, losses and leaders.
 * @module
 */
import type { Logger } from 'pino';
import type { Agent } from './agent.js';
import { lockEvents } from './lock-events.js';
import type { MachineLabel } from './observer.js';
import type { Replicas } from './types.js';

/** A sync round that lasts longer than this is logged while it lasts. */
const SLOW_SYNC_MS = 2000;

/** Log `agent`'s state changes on `log`. Returns the unsubscribe function. */
export function logAgent(agent: Agent, log: Logger): () => void {
  return agent.onConnect((r) => {
    const self = r.kv.machine.self;
    log.info(
      {
        event: 'connected',
        nodeid: self.nodeid,
        pid: process.pid,
        groups: [r.transports.store.name, r.transports.locks.name],
      },
      `serving group ${r.transports.store.name ?? ''} as ${self.nodeid}:${process.pid} (store in ${r.transports.store.name ?? ''}, locks in ${r.transports.locks.name ?? ''})`,
    );
    const offs = (['store', 'locks'] as const).map((m) => logMachine(r, m, log));
    let prev = r.locks.state;
    offs.push(
      r.locks.subscribe((c) => {
        const next = c.state;
        if (next === prev) return;
        for (const e of lockEvents(prev, next, c.kind !== 'command')) {
          const who = `${e.owner.nodeid}:${e.owner.pid}`;
          const what =
            e.event === 'leader-elected' || e.event === 'leader-ended'
              ? `${e.event} '${e.name}' term ${e.term} ${who}`
              : `${e.event} '${e.name}' token ${e.token} ${who}`;
          log.info({ ...e, owner: { ...e.owner } }, what);
        }
        prev = next;
      }),
    );
    return () => {
      for (const off of offs) off();
    };
  });
}

function logMachine(r: Replicas, label: MachineLabel, log: Logger): () => void {
  const m = label === 'store' ? r.kv.machine : r.locks;
  const describe = (): Record<string, unknown> => ({
    machine: label,
    status: m.status,
    epoch: m.epoch,
    index: m.index.toString(),
    members: m.members.length,
    replicaSet: m.replicas.length,
    ...(label === 'store' ? { revision: r.kv.revision, keys: r.kv.size } : {}),
  });
  const line = (): string =>
    `${label} status ${m.status} (epoch ${m.epoch}, index ${m.index}, ` +
    (label === 'store' ? `revision ${r.kv.revision}, ${r.kv.size} keys, ` : '') +
    `${m.members.length} members, ${m.replicas.length} in Q)`;
  let logged: string = m.status;
  let slow: NodeJS.Timeout | undefined;
  log.info({ event: 'status', ...describe() }, line());
  const off = r.observers[label].on((e) => {
    switch (e.type) {
      case 'status':
        clearTimeout(slow);
        // a client's join and leave make two short sync rounds: log a status once it holds, and a sync
        // only when it lasts
        if (e.status === 'syncing') {
          slow = setTimeout(() => {
            if (m.status !== 'syncing') return;
            logged = 'syncing';
            log.warn({ event: 'status', ...describe() }, `${line()} for over ${SLOW_SYNC_MS} ms`);
          }, SLOW_SYNC_MS);
          slow.unref();
        } else if (e.status !== logged) {
          logged = e.status;
          log.info({ event: 'status', ...describe() }, line());
        }
        break;
      case 'round':
        log.debug(
          { event: 'sync', machine: label, ms: Math.round(e.ms) },
          `${label} sync round decided in ${Math.round(e.ms)} ms`,
        );
        break;
      case 'quorum':
        (e.quorate ? log.info : log.warn).call(
          log,
          { event: e.quorate ? 'quorum-regained' : 'quorum-lost', machine: label },
          `${label}: ${e.quorate ? 'quorum regained' : 'quorum lost'}`,
        );
        break;
      case 'persist-failed':
        log.error(
          { event: 'persist-failed', machine: label, index: e.index.toString(), err: e.error },
          `${label}: ${e.error.message} (going on from memory, retrying)`,
        );
        break;
      case 'mismatch':
        log.warn(
          {
            event: 'digest-mismatch',
            machine: label,
            epoch: e.epoch,
            index: e.index.toString(),
            from: `${e.from.nodeid}:${e.from.pid}`,
          },
          `${label}: state digest mismatch at epoch ${e.epoch} index ${e.index} with ${e.from.nodeid}:${e.from.pid}: resyncing`,
        );
        break;
      case 'foreign':
        if (e.count === 1 || Math.floor(e.count / 1000) > Math.floor((e.count - e.delta) / 1000))
          log.warn(
            { event: 'foreign', machine: label, count: e.count },
            `${label}: skipped ${e.count} foreign message(s) in the group`,
          );
        break;
      default:
        break;
    }
  });
  return () => {
    clearTimeout(slow);
    off();
  };
}
