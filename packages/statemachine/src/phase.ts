/**
 * Where a replica stands: one phase (`syncing | ready | minority | closed`, what `status`
 * says) computed from the quorum record and whether the current round is done, instead of a
 * set of booleans from which a status is derived in several places. Pure.
 * @module
 */
import type { MachineStatus } from './types.js';

/** The replica's phase; `kind` is the machine's `status`. */
export type Phase =
  /** In a sync round not yet finished for us, or holding no state. */
  | { readonly kind: 'syncing' }
  /** Synced by a quorate round, in a quorate node component. */
  | { readonly kind: 'ready' }
  /**
   * No majority: of `Q` (the round said so, or a confchg cut us off) or of the nodes.
   * `synced`: we hold a state synced by the current round (stale, but readable).
   */
  | { readonly kind: 'minority'; readonly synced: boolean }
  /** Closed (by us, or the group closed under us); final. */
  | { readonly kind: 'closed' };

/** What the replica knows about quorum. */
export interface Quorum {
  /** The node's quorum (corosync's votequorum, or the simulator's), as last reported. */
  local: boolean;
  /**
   * The ring (`RingId.seq`) of the view `local` came from; `undefined` when the transport
   * reports no views. Quorum notifications are not ordered with CPG's callbacks: right after
   * a ring change `local` can still be the previous ring's (see `quorateInRing`).
   */
  viewRing: bigint | undefined;
  /** The latest sync decision this replica finished said quorate (a majority of `Q`). */
  decided: boolean;
  /**
   * A confchg took nodes away and left no strict majority of `Q` among our peers: a minority
   * from that confchg on, until the next decision (replica-set.ts, `cutOffBy`).
   */
  cutOff: boolean;
}

/**
 * Whether the node is quorate in `ring`, the ring of our latest totem event: its latest quorum
 * view is of that ring and says quorate. Only the strict rule (a bootstrap, `force`) asks
 * this: a member whose node was just cut off into a minority ring still holds the previous
 * ring's `quorate` until its view of the new ring arrives (20 ms in the simulations), and a
 * fresh member that bootstrapped meanwhile would start a second history (seed 9050 of the
 * upgrade campaign). Without views (a transport that reports none) it is the flag alone.
 */
export function quorateInRing(quorum: Quorum, ring: { readonly seq: bigint } | undefined): boolean {
  if (!quorum.local) return false;
  if (quorum.viewRing === undefined) return true;
  return ring !== undefined && ring.seq === quorum.viewRing;
}

/** The first phase of every replica. */
export const SYNCING: Phase = { kind: 'syncing' };
/** The last phase of every replica. */
export const CLOSED: Phase = { kind: 'closed' };

/**
 * The phase of an open replica.
 * @param synced - the current round is done for us and we hold a state
 */
export function phaseOf(synced: boolean, quorum: Quorum): Phase {
  if (quorum.cutOff) return { kind: 'minority', synced };
  if (!synced) return SYNCING;
  if (!quorum.decided || !quorum.local) return { kind: 'minority', synced: true };
  return { kind: 'ready' };
}

/** Whether a phase holds a synced state (quorate or not). */
export function isSynced(phase: Phase): boolean {
  return phase.kind === 'ready' || (phase.kind === 'minority' && phase.synced);
}

/**
 * Why a write must be refused now, or `undefined`: `'closed'`, or `'no-quorum'` when cut off,
 * when the node lost its quorum (`joined`: before the join the node's quorum is not known
 * yet), or when the round we finished was not quorate.
 */
export function writeRefusal(
  phase: Phase,
  quorum: Quorum,
  joined: boolean,
): 'closed' | 'no-quorum' | undefined {
  if (phase.kind === 'closed') return 'closed';
  if (quorum.cutOff || (!quorum.local && joined)) return 'no-quorum';
  if (isSynced(phase) && !quorum.decided) return 'no-quorum';
  return undefined;
}

/** The status a phase shows. */
export function statusOf(phase: Phase): MachineStatus {
  return phase.kind;
}
