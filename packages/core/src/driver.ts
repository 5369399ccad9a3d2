/**
 * The backend contract: what an engine (corosync through koffi, or the in-memory cluster)
 * implements. `Group` (group.ts) builds the public `GroupTransport` on top of any driver, so
 * framing, batching, chunking, backpressure and the event stream behave the same on both.
 * Applications do not use this directly.
 * @module
 */
import type { Clock, MemberChange, MemberId, QuorumView, RingId, TransportKind } from './types.js';
import type { CpgError } from './errors.js';

/** Where a driver delivers what the engine says, in the engine's order. */
export interface DriverSink {
  /**
   * One CPG message (the concatenation of the sender's parts). `data` may be a view over
   * memory that is only valid during this call: copy what you keep.
   */
  message(sender: MemberId, data: Uint8Array): void;
  /** A group configuration change (one corosync confchg callback). */
  membership(
    members: readonly MemberId[],
    joined: readonly MemberChange[],
    left: readonly MemberChange[],
  ): void;
  /** A totem configuration change; also once right after `join`. */
  totem(ringId: RingId, nodes: readonly number[]): void;
  /**
   * This node's quorum, on join, whenever it changes and, when the engine reports a view per
   * ring, at every new view (`quorate` may repeat).
   */
  quorum(quorate: boolean, view?: QuorumView): void;
  /** A send that returned `false` (try again) may now succeed. */
  writable(): void;
  /** The connection ended under us (daemon died, IPC error). No more calls follow. */
  lost(error: CpgError): void;
}

/** A group listed by `GroupDriver.groups()`. */
export interface GroupListing {
  readonly group: Uint8Array;
  readonly members: readonly MemberId[];
}

/**
 * One connection to the engine (one corosync handle): at most one joined group.
 * Methods are synchronous and throw typed `CpgError`s.
 */
export interface GroupDriver {
  /** Our node id and pid. */
  readonly local: MemberId;
  /** The largest single message the engine takes atomically (corosync: ~1 MiB). */
  readonly maxMessageSize: number;
  /** Join the group named by these bytes (1..128 bytes; validated by the caller). */
  join(name: Uint8Array): void;
  /** Leave the joined group. The connection stays open (but cannot rejoin in corosync 3.1.7). */
  leave(): void;
  /**
   * Multicast ONE message in agreed order: the receivers get the concatenation of `parts`.
   * Never more than 63 parts. Returns `false` when the engine said try again (backpressure;
   * `sink.writable()` follows), `true` when it accepted the message.
   */
  mcast(parts: readonly Uint8Array[]): boolean;
  /** The joined group's members as the engine reports them now. */
  members(): MemberId[];
  /** Every group in the cluster with its members. */
  groups(): GroupListing[];
  /** This node's quorum now (`undefined` if unknown). */
  quorate(): boolean | undefined;
  /**
   * Process pending events now (for users who run their own loop): waits up to `timeoutMs`
   * (0 = do not wait) for the first one. Returns whether anything was dispatched.
   */
  dispatch(timeoutMs: number): boolean;
  /** Close the connection. Idempotent. No sink calls follow. */
  close(): void;
}

/** Options for `Transport.connect`. */
export interface ConnectOptions {
  /**
   * `auto` (default): the event loop dispatches when the connection's fd is readable.
   * `manual`: nothing is dispatched until you call `dispatch()`.
   */
  readonly dispatch?: 'auto' | 'manual';
}

/** A way to open connections to an engine. `corosync()` or `memoryCluster.node(n)`. */
export interface Transport {
  readonly kind: TransportKind;
  /** The clock layers above should use with connections of this transport. */
  readonly clock: Clock;
  /** Open a new connection (a new member-to-be). Rejects with a typed `CpgError`. */
  connect(sink: DriverSink, options?: ConnectOptions): Promise<GroupDriver>;
}
