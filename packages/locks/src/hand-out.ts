/**
 * The hand-out rule of `Locks`: when a request seen in the replicated state may become a `Lock`
 * or a `Leadership` in the caller's hands. A grant is handed out only once a strict majority of
 * `Q` applied the entry that made it; a request the state no longer lists is dropped.
 * @module
 */
import type { Leadership, LeadershipGrant } from './leadership.js';
import type { Lock, LockGrant } from './lock.js';
import type { LocksState } from './state.js';
import type { LockSpec } from './types.js';
import { lockOf } from './lock-table.js';

/** A request of this client, waiting for its grant. */
export interface Waiter {
  readonly id: string;
  readonly name: string;
  readonly spec: LockSpec | undefined; // undefined: an election
  /** The request was applied (dispatch came back): absence from the state now means dropped. */
  confirmed: boolean;
  /**
   * The grant as first seen in the local state (its token or term) and the index then. It is
   * handed out only once `committedIndex` reaches that index: a grant that only this side of
   * a partition applied is never handed out.
   */
  seen: { readonly grant: string; readonly index: bigint } | undefined;
  /** `'dropped'`: the state no longer lists the request; `'minority'`: this member lost quorum. */
  readonly resolve: (out: Lock | Leadership | 'dropped' | 'minority') => void;
}

/** What to do with a waiter now. */
export type HandOut =
  | { readonly kind: 'wait' }
  | { readonly kind: 'dropped' }
  | { readonly kind: 'lock'; readonly grant: LockGrant }
  | { readonly kind: 'leadership'; readonly grant: LeadershipGrant };

/** Where the machine stands: the index it applied, and the index a majority of `Q` applied. */
export interface Progress {
  readonly index: bigint;
  readonly committedIndex: bigint;
}

const WAIT: HandOut = { kind: 'wait' };
const DROPPED: HandOut = { kind: 'dropped' };

/**
 * Whether a grant (a token or a term) seen in the local state may be handed out: a strict
 * majority of `Q` applied the entry that made it. A grant that only one side of a partition
 * applied (CPG can deliver a message in flight on its sender's side only) is never handed out:
 * the majority may grant the same token to someone else. Records in `w.seen` where the grant
 * was first seen.
 */
function committed(w: Waiter, grant: string, at: Progress): boolean {
  if (w.seen?.grant !== grant) w.seen = { grant, index: at.index };
  return at.committedIndex >= w.seen.index;
}

/**
 * What to do with waiter `w` given the state of a `ready` machine: hand out its grant once
 * committed, drop it when the state no longer lists a request that was applied, else wait.
 */
export function handOut(w: Waiter, state: LocksState, at: Progress): HandOut {
  if (w.spec === undefined) {
    const e = state.elections[w.name];
    if (e?.leader?.id === w.id) {
      if (!committed(w, e.term, at)) return WAIT;
      return {
        kind: 'leadership',
        grant: { id: w.id, name: w.name, term: e.term, value: e.leader.value },
      };
    }
    if (w.confirmed && !e?.candidates.some((c) => c.id === w.id)) return DROPPED;
    return WAIT;
  }
  const entry = lockOf(state.locks, w.name);
  const h = entry?.holders.find((x) => x.id === w.id);
  if (h !== undefined) {
    if (!committed(w, h.token, at)) return WAIT;
    return {
      kind: 'lock',
      grant: {
        id: w.id,
        name: w.name,
        kind: w.spec.kind,
        mode: h.mode,
        token: h.token,
        expires: h.expires,
      },
    };
  }
  if (w.confirmed && !entry?.waiters.some((x) => x.id === w.id)) return DROPPED;
  return WAIT;
}
