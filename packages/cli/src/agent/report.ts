/**
 * What one agent tells `cpgkit status` about itself and its replicas: a JSON object (the
 * `agents` entries of `cpgkit status --json`). Versioned with `v`.
 * @module
 */
import { hostname } from 'node:os';
import { lockList, type LocksCommand, type LocksResult, type LocksState } from '@cpgkit/locks';
import type { MachineStatus, StateMachine } from '@cpgkit/statemachine';
import type { AgentState, Replicas } from './types.js';
import type { MachineObserver } from './observer.js';

/** The report format version. */
export const REPORT_VERSION = 1;

/** How many lock and election names a report lists at most (the message stays small). */
export const REPORT_MAX_NAMES = 500;

/** One replica (the store's or the lock machine's) of one agent. */
export interface MachineReport {
  /** The CPG group. */
  readonly group: string;
  readonly status: MachineStatus;
  /** The replica id (kept in the data directory: stable across restarts). */
  readonly replicaId: string;
  readonly epoch: number;
  /** The log index (a decimal string: it is 64 bits). */
  readonly index: string;
  /** The state digest (hex) at `epoch`/`index`. */
  readonly digest: string;
  /** `Q`: the replica ids of the replica set this replica knows. */
  readonly replicaSet: readonly string[];
  /** Members of the group (clients included), as the replicated state sees them. */
  readonly members: readonly { readonly nodeid: number; readonly pid: number }[];
  /** ISO time of the end of the last sync round on this connection, or `null`. */
  readonly lastSync: string | null;
  readonly syncRounds: number;
  readonly mismatches: number;
  readonly foreign: number;
}

/** A lock name with holders or waiters. */
export interface LockReport {
  readonly name: string;
  readonly kind: string | null;
  /** The last fencing token issued for the name (decimal string). */
  readonly token: string;
  readonly holders: readonly {
    readonly nodeid: number;
    readonly pid: number;
    readonly token: string;
    readonly mode: string;
    readonly since: string;
    readonly expires: string | null;
  }[];
  readonly waiters: readonly {
    readonly nodeid: number;
    readonly pid: number;
    readonly mode: string;
  }[];
}

/** An election with a leader or candidates. */
export interface ElectionReport {
  readonly name: string;
  /** The current (or last) term (decimal string). */
  readonly term: string;
  readonly leader: {
    readonly nodeid: number;
    readonly pid: number;
    readonly value: unknown;
  } | null;
  readonly candidates: number;
}

/** What one agent (`cpgkit serve`) reports. */
export interface AgentReport {
  readonly v: typeof REPORT_VERSION;
  readonly nodeid: number;
  readonly pid: number;
  readonly hostname: string;
  /** `running`, or `connecting` (corosync lost: then `reason`). */
  readonly state: AgentState['kind'];
  readonly reason?: string;
  readonly reconnects: number;
  readonly store: (MachineReport & { readonly revision: number; readonly keys: number }) | null;
  readonly locks:
    | (MachineReport & {
        readonly locks: readonly LockReport[];
        readonly elections: readonly ElectionReport[];
        /** True when more names were in use than `REPORT_MAX_NAMES`. */
        readonly truncated: boolean;
      })
    | null;
}

/**
 * What a report is made of: one node's two replicas, their observers and their CPG groups.
 * `Replicas` is one; the live view builds one per node of an in-process cluster.
 */
export interface ReportSource {
  readonly kv: Replicas['kv'];
  /** The lock machine (`Locks.machine`; a `ReplicatedStateMachine`, whose replica id and `Q` are reported). */
  readonly locks: StateMachine<LocksState, LocksCommand, LocksResult>;
  readonly observers: Replicas['observers'];
  /** The CPG group names of the store and the lock machine. */
  readonly groups: { readonly store: string; readonly locks: string };
}

/** The report of `agent` (its current `replicas`). */
export function buildReport(
  agent: { readonly state: AgentState; readonly reconnects: number },
  replicas: Replicas,
): AgentReport {
  return reportOf(agent, {
    kv: replicas.kv,
    locks: replicas.locks,
    observers: replicas.observers,
    groups: {
      store: replicas.transports.store.name ?? '',
      locks: replicas.transports.locks.name ?? '',
    },
  });
}

/**
 * The report of one node's replicas (`source`).
 * @param pid - the process id to report @defaultValue `process.pid`
 */
export function reportOf(
  agent: {
    readonly state: { readonly kind: AgentState['kind']; readonly reason?: string };
    readonly reconnects: number;
  },
  source: ReportSource,
  pid: number = process.pid,
): AgentReport {
  const state = agent.state;
  const kvm = source.kv.machine as unknown as ReplicaLike;
  const self = kvm.self;
  const locksContent = lockContent(source.locks.state);
  return {
    v: REPORT_VERSION,
    nodeid: self.nodeid,
    pid,
    hostname: hostname(),
    state: state.kind,
    ...(state.kind === 'connecting' && state.reason !== undefined ? { reason: state.reason } : {}),
    reconnects: agent.reconnects,
    store: {
      ...machineReport(kvm, source.groups.store, source.observers.store),
      revision: source.kv.revision,
      keys: source.kv.size,
    },
    locks: {
      ...machineReport(source.locks, source.groups.locks, source.observers.locks),
      ...locksContent,
    },
  };
}

/** A state machine with a replica id and `Q` (a `ReplicatedStateMachine`). */
type ReplicaLike = StateMachine<unknown, unknown, unknown> & {
  readonly replicaId?: string;
  readonly replicas?: readonly string[];
};

function machineReport(m: ReplicaLike, group: string, observer: MachineObserver): MachineReport {
  const s = observer.stats;
  return {
    group,
    status: m.status,
    replicaId: m.replicaId ?? '',
    epoch: m.epoch,
    index: m.index.toString(),
    digest: m.digest(),
    replicaSet: [...(m.replicas ?? [])],
    members: m.members.map(({ nodeid, pid }) => ({ nodeid, pid })),
    lastSync: s.lastSyncAt === undefined ? null : new Date(s.lastSyncAt).toISOString(),
    syncRounds: s.rounds,
    mismatches: s.mismatches,
    foreign: s.foreign,
  };
}

function lockContent(state: LocksState): {
  locks: LockReport[];
  elections: ElectionReport[];
  truncated: boolean;
} {
  const iso = (ms: number): string => new Date(ms).toISOString();
  const busy = lockList(state.locks).filter(
    ([, e]) => e.holders.length > 0 || e.waiters.length > 0,
  );
  const led = Object.entries(state.elections).filter(
    ([, e]) => e.leader !== null || e.candidates.length > 0,
  );
  return {
    truncated: busy.length > REPORT_MAX_NAMES || led.length > REPORT_MAX_NAMES,
    locks: busy.slice(0, REPORT_MAX_NAMES).map(([name, e]) => ({
      name,
      kind: e.kind,
      token: e.token,
      holders: e.holders.map((h) => ({
        nodeid: h.owner.nodeid,
        pid: h.owner.pid,
        token: h.token,
        mode: h.mode,
        since: iso(h.since),
        expires: h.expires === null ? null : iso(h.expires),
      })),
      waiters: e.waiters.map((w) => ({ nodeid: w.owner.nodeid, pid: w.owner.pid, mode: w.mode })),
    })),
    elections: led.slice(0, REPORT_MAX_NAMES).map(([name, e]) => ({
      name,
      term: e.term,
      leader:
        e.leader === null
          ? null
          : { nodeid: e.leader.owner.nodeid, pid: e.leader.owner.pid, value: e.leader.value },
      candidates: e.candidates.length,
    })),
  };
}
