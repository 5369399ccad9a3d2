/**
 * The shapes every cpgkit transport speaks. See `GroupTransport` for the contract.
 * @module
 */

/** A group member as corosync names it: a process (`pid`) on a cluster node (`nodeid`). */
export interface MemberId {
  readonly nodeid: number;
  readonly pid: number;
}

/**
 * Why a member joined or left, as corosync reports it (`CPG_REASON_*`).
 * - `join` / `leave`: the process called join / leave;
 * - `nodedown`: its node left the cluster (crash, or cut off by a partition);
 * - `nodeup`: its node came (back) into the cluster, e.g. a partition healed;
 * - `procdown`: the process died (or closed its connection) without leaving.
 */
export type MembershipReason = 'join' | 'leave' | 'nodedown' | 'nodeup' | 'procdown';

/** A member in a `joined` or `left` list, with the reason. */
export interface MemberChange extends MemberId {
  readonly reason: MembershipReason;
}

/** A message delivered to the group, in agreed order; our own messages included. */
export interface MessageEvent {
  readonly type: 'message';
  readonly sender: MemberId;
  /** The payload. Owned by the receiver (never reused by the transport). */
  readonly data: Uint8Array;
}

/**
 * A change of the group's membership, delivered in the same ordered stream as messages.
 * `members` is the truth after the change (lists of joined/left can differ between nodes
 * in merges). When `members` no longer contains us, we have been evicted.
 */
export interface MembershipEvent {
  readonly type: 'membership';
  readonly members: readonly MemberId[];
  readonly joined: readonly MemberChange[];
  readonly left: readonly MemberChange[];
}

/** Totem ring identity: the node that formed the ring and its sequence number. */
export interface RingId {
  readonly nodeid: number;
  readonly seq: bigint;
}

/**
 * A change of the cluster's (totem) membership: which nodes are in our ring. Delivered once
 * right after connecting, and after the group membership events of each change.
 */
export interface TotemEvent {
  readonly type: 'totem';
  readonly ringId: RingId;
  readonly nodes: readonly number[];
}

/**
 * A quorum view (votequorum's): the totem ring it was computed for, and the nodes it counts.
 * Corosync does not order quorum notifications with CPG's callbacks, so right after a totem
 * event the latest view can still be the previous ring's: compare `ringSeq` with the
 * `RingId.seq` of the latest totem event before trusting `quorate` for the current ring.
 */
export interface QuorumView {
  /** The `seq` of the ring this view is of. */
  readonly ringSeq: bigint;
  /** The nodes of that ring, as the quorum service counts them. */
  readonly nodes: readonly number[];
}

/**
 * Whether this member's node is part of a quorate partition. Delivered on join, and at every
 * new ring when the engine reports a view per ring (corosync does: `quorate` may repeat, with
 * a new `view`).
 */
export interface QuorumEvent {
  readonly type: 'quorum';
  readonly quorate: boolean;
  /** The view this flag comes from, when the engine says (corosync and the in-memory cluster do). */
  readonly view?: QuorumView;
}

/** Everything a group member receives, in one ordered stream. Discriminated on `type`. */
export type GroupEvent = MessageEvent | MembershipEvent | TotemEvent | QuorumEvent;

/** The `type` of a `GroupEvent`. */
export type GroupEventType = GroupEvent['type'];

/** The event of the given `type`. */
export type GroupEventOf<T extends GroupEventType> = Extract<GroupEvent, { type: T }>;

/** Options for calls that wait. */
export interface WaitOptions {
  /** Abort the wait; the call rejects with the signal's reason (an `AbortError` when the reason is not an `Error`). */
  readonly signal?: AbortSignal;
  /** Give up after this many milliseconds (on the transport's clock) with a `TimeoutError`. */
  readonly timeout?: number;
}

/** A cancellable timer handle from a `Clock`. */
export interface TimerHandle {
  cancel(): void;
}

/**
 * Time, injected. The corosync transport uses the real clock; the in-memory cluster gives a
 * virtual one (`cluster.clock`) so tests of timeouts run without sleeping. Layers above core
 * take their clock from the transport (`group.clock`), never from `Date.now()`.
 */
export interface Clock {
  /** Milliseconds since an arbitrary origin. Monotonic. */
  now(): number;
  /** Wall-clock milliseconds since the epoch (for display and for times carried in commands). */
  wallNow(): number;
  /** Run `fn` after `ms` milliseconds. */
  setTimeout(fn: () => void, ms: number): TimerHandle;
  /**
   * Milliseconds that bound a slice of background work (how long one turn of the event loop
   * may compute before it yields: a large snapshot's writing, a digest); `performance.now()`
   * when absent. A seeded simulation gives its virtual time here, so that where a slice ends
   * never depends on how busy the machine is (see `MemoryClusterOptions.sliceTime`).
   */
  sliceNow?(): number;
  /**
   * Stop a seeded simulation until the function returned is called: its engine takes no step
   * and no timer fires meanwhile, so that real I/O whose end a message waits for (a replica's
   * disk write) takes no virtual time and a run replays exactly. What the release is given
   * (`then`: the message that waited) runs once every hold is released, in the order the holds
   * were taken, whatever order the real I/O ended in. Absent on real clocks.
   */
  hold?(): (then?: () => void) => void;
}

/** Which engine a transport runs on. */
export type TransportKind = 'corosync' | 'memory';
