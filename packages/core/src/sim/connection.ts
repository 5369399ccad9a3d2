/**
 * One connection to the in-memory cluster (the in-memory counterpart of a corosync handle):
 * the `GroupDriver` the `Group` layer talks to.
 * @module
 */
import type { DriverSink, GroupDriver, GroupListing } from '../driver.js';
import type { MemberChange, MemberId, QuorumView, RingId } from '../types.js';

/** A message ordered in a component: one object shared by every receiver's inbox. */
export interface McastItem {
  readonly kind: 'mcast';
  readonly conn: SimConnection;
  readonly key: string;
  readonly data: Uint8Array;
}

/** A request to join, ordered like a message. */
export interface JoinItem {
  readonly kind: 'join';
  readonly conn: SimConnection;
  readonly key: string;
}

/** A leave (or a process's death), ordered like a message. */
export interface LeaveItem {
  readonly kind: 'leave';
  readonly conn: SimConnection;
  readonly key: string;
  readonly reason: 'leave' | 'procdown';
}

/** Something a component orders. */
export type OrderedItem = McastItem | JoinItem | LeaveItem;

/** A group configuration change, as queued for one connection. */
export interface ConfchgItem {
  readonly kind: 'confchg';
  readonly members: readonly MemberId[];
  readonly joined: readonly MemberChange[];
  readonly left: readonly MemberChange[];
}

/** A totem configuration change. */
export interface TotemItem {
  readonly kind: 'totem';
  readonly ring: RingId;
  readonly nodes: readonly number[];
}

/** A quorum view (one per new ring, as votequorum sends them). */
export interface QuorumItem {
  readonly kind: 'quorum';
  readonly quorate: boolean;
  readonly view: QuorumView;
}

/** What waits in a connection's inbox. */
export type InboxItem = McastItem | ConfchgItem | TotemItem | QuorumItem;

/** Connection states, as corosync's `cpd_state`. */
export type ConnState = 'unjoined' | 'joining' | 'joined' | 'leaving';

/** What a connection needs from its cluster. */
export interface SimEngine {
  join(conn: SimConnection, name: Uint8Array): void;
  leave(conn: SimConnection): void;
  mcast(conn: SimConnection, parts: readonly Uint8Array[]): boolean;
  members(conn: SimConnection): MemberId[];
  groups(conn: SimConnection): GroupListing[];
  quorate(conn: SimConnection): boolean | undefined;
  dispatch(conn: SimConnection): boolean;
  close(conn: SimConnection): void;
}

/** The simulated process a connection belongs to. */
export interface SimProcessRef {
  readonly pid: number;
  readonly nodeid: number;
}

/** A connection of a simulated process to its node's (simulated) daemon. */
export class SimConnection implements GroupDriver {
  /** Our node id and pid. */
  readonly local: MemberId;
  /** corosync's atomic message size. */
  readonly maxMessageSize: number;
  /** Index in the cluster, for traces. */
  readonly id: number;
  readonly engine: SimEngine;
  readonly process: SimProcessRef;
  readonly sink: DriverSink;
  readonly manual: boolean;
  /** The incarnation of our node's daemon we connected to (see `MemoryCluster.crashNode`). */
  readonly incarnation: number;
  state: ConnState = 'unjoined';
  /** Joined once: corosync 3.1.7 refuses a second join on the same handle. */
  used = false;
  key: string | null = null;
  name: Uint8Array | null = null;
  inbox: InboxItem[] = [];
  head = 0;
  closed = false;
  /** The daemon or the process died under this connection. */
  dead = false;
  wantsWritable = false;
  initialTotemSent = false;

  constructor(
    engine: SimEngine,
    process: SimProcessRef,
    id: number,
    sink: DriverSink,
    manual: boolean,
    maxMessageSize: number,
    incarnation = 0,
  ) {
    this.engine = engine;
    this.incarnation = incarnation;
    this.process = process;
    this.id = id;
    this.sink = sink;
    this.manual = manual;
    this.maxMessageSize = maxMessageSize;
    this.local = Object.freeze({ nodeid: process.nodeid, pid: process.pid });
  }

  /** Items waiting to be delivered. */
  get backlog(): number {
    return this.inbox.length - this.head;
  }

  join(name: Uint8Array): void {
    this.engine.join(this, name);
  }
  leave(): void {
    this.engine.leave(this);
  }
  mcast(parts: readonly Uint8Array[]): boolean {
    return this.engine.mcast(this, parts);
  }
  members(): MemberId[] {
    return this.engine.members(this);
  }
  groups(): GroupListing[] {
    return this.engine.groups(this);
  }
  quorate(): boolean | undefined {
    return this.engine.quorate(this);
  }
  dispatch(_timeoutMs: number): boolean {
    return this.engine.dispatch(this);
  }
  close(): void {
    this.engine.close(this);
  }
}
