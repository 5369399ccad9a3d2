/**
 * The agent's Prometheus metrics (prom-client), fed by the machines' public events through
 * `MachineObserver` and read from the replicas at scrape time. Every metric of a machine has
 * the label `machine` = `store` | `locks`.
 * @module
 */
import type { Group } from '@cpgkit/core';
import { lockList } from '@cpgkit/locks';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Agent } from './agent.js';
import type { Replicas } from './types.js';

/** The metric names, for docs and tests. */
export const METRIC_NAMES = [
  'cpgkit_sync_rounds_total',
  'cpgkit_sync_duration_seconds',
  'cpgkit_commands_applied_total',
  'cpgkit_command_latency_seconds',
  'cpgkit_digest_mismatches_total',
  'cpgkit_foreign_messages_total',
  'cpgkit_persist_failures_total',
  'cpgkit_send_queue_messages',
  'cpgkit_send_queue_bytes',
  'cpgkit_quorate',
  'cpgkit_ready',
  'cpgkit_members',
  'cpgkit_replica_set_size',
  'cpgkit_log_index',
  'cpgkit_store_revision',
  'cpgkit_store_keys',
  'cpgkit_locks_held',
  'cpgkit_locks_waiting',
  'cpgkit_connected',
  'cpgkit_reconnects_total',
] as const;

/**
 * A registry with the agent's metrics (and prom-client's default process metrics). Wires itself
 * to every connection of `agent`.
 */
export function agentMetrics(agent: Agent): Registry {
  const register = new Registry();
  collectDefaultMetrics({ register });
  const labelNames = ['machine'] as const;
  const rounds = new Counter({
    name: 'cpgkit_sync_rounds_total',
    help: 'Sync rounds finished (a membership change, or the first sync)',
    labelNames,
    registers: [register],
  });
  const roundSeconds = new Histogram({
    name: 'cpgkit_sync_duration_seconds',
    help: 'How long the replica was syncing, per round',
    labelNames,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [register],
  });
  const applied = new Counter({
    name: 'cpgkit_commands_applied_total',
    help: 'Commands applied by this replica (result=failed: the machine refused it, on every replica)',
    labelNames: ['machine', 'result'] as const,
    registers: [register],
  });
  const latency = new Histogram({
    name: 'cpgkit_command_latency_seconds',
    help: "Dispatch latency: from a command's send (its sender's clock) to its apply on this replica",
    labelNames,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [register],
  });
  const mismatches = new Counter({
    name: 'cpgkit_digest_mismatches_total',
    help: 'State digest mismatches with another replica (each is repaired by a resync)',
    labelNames,
    registers: [register],
  });
  const foreign = new Counter({
    name: 'cpgkit_foreign_messages_total',
    help: 'Messages in the group that were not this machine format (skipped)',
    labelNames,
    registers: [register],
  });
  const persistFailures = new Counter({
    name: 'cpgkit_persist_failures_total',
    help: 'Failed writes of the replica to its data directory (disk full, I/O error); it retries',
    labelNames,
    registers: [register],
  });
  const reconnects = new Counter({
    name: 'cpgkit_reconnects_total',
    help: 'Connections to corosync opened again after the previous one was lost',
    registers: [register],
  });
  let current: Replicas | undefined;
  const perMachine = (
    name: string,
    help: string,
    read: (r: Replicas, m: 'store' | 'locks') => number,
  ): void => {
    new Gauge({
      name,
      help,
      labelNames,
      registers: [register],
      collect() {
        this.reset();
        const r = current;
        if (r === undefined) return;
        for (const m of ['store', 'locks'] as const) this.set({ machine: m }, read(r, m));
      },
    });
  };
  const machineOf = (r: Replicas, m: 'store' | 'locks') => (m === 'store' ? r.kv.machine : r.locks);
  // a `Group` (every transport the agent opens) tells its send queue; other transports do not
  const queued = (r: Replicas, m: 'store' | 'locks') =>
    (r.transports[m] as Partial<Pick<Group, 'queued'>>).queued ?? { messages: 0, bytes: 0 };
  perMachine(
    'cpgkit_send_queue_messages',
    'Messages waiting to be sent to corosync',
    (r, m) => queued(r, m).messages,
  );
  perMachine(
    'cpgkit_send_queue_bytes',
    'Bytes waiting to be sent to corosync',
    (r, m) => queued(r, m).bytes,
  );
  perMachine('cpgkit_quorate', "1 when this node's corosync says quorate", (r, m) =>
    r.transports[m].quorate ? 1 : 0,
  );
  perMachine('cpgkit_ready', '1 when the replica is synced in a quorate component', (r, m) =>
    machineOf(r, m).status === 'ready' ? 1 : 0,
  );
  perMachine(
    'cpgkit_members',
    'Members of the group (replicas and clients)',
    (r, m) => machineOf(r, m).members.length,
  );
  perMachine(
    'cpgkit_replica_set_size',
    'Replicas in the replica set Q',
    (r, m) => machineOf(r, m).replicas.length,
  );
  perMachine('cpgkit_log_index', 'Index of the last applied entry', (r, m) =>
    Number(machineOf(r, m).index),
  );
  const single = (name: string, help: string, read: (r: Replicas) => number): void => {
    new Gauge({
      name,
      help,
      registers: [register],
      collect() {
        this.reset();
        if (current !== undefined) this.set(read(current));
      },
    });
  };
  single('cpgkit_store_revision', 'The store revision', (r) => r.kv.revision);
  single('cpgkit_store_keys', 'Keys in the store', (r) => r.kv.size);
  single('cpgkit_locks_held', 'Lock grants held (all names)', (r) =>
    lockList(r.locks.state.locks).reduce((n, [, e]) => n + e.holders.length, 0),
  );
  single('cpgkit_locks_waiting', 'Lock requests waiting (all names)', (r) =>
    lockList(r.locks.state.locks).reduce((n, [, e]) => n + e.waiters.length, 0),
  );
  new Gauge({
    name: 'cpgkit_connected',
    help: '1 while connected to corosync',
    registers: [register],
    collect() {
      this.set(agent.state.kind === 'running' ? 1 : 0);
    },
  });

  agent.onConnect((r) => {
    current = r;
    if (agent.reconnects > 0) reconnects.inc();
    const offs = (['store', 'locks'] as const).map((machine) =>
      r.observers[machine].on((e) => {
        switch (e.type) {
          case 'round':
            rounds.inc({ machine });
            roundSeconds.observe({ machine }, e.ms / 1000);
            break;
          case 'applied':
            applied.inc({ machine, result: e.ok ? 'ok' : 'failed' });
            latency.observe({ machine }, e.latencyMs / 1000);
            break;
          case 'mismatch':
            mismatches.inc({ machine });
            break;
          case 'persist-failed':
            persistFailures.inc({ machine });
            break;
          case 'foreign':
            if (e.delta > 0) foreign.inc({ machine }, e.delta);
            break;
          default:
            break;
        }
      }),
    );
    return () => {
      for (const off of offs) off();
      if (current === r) current = undefined;
    };
  });
  return register;
}
