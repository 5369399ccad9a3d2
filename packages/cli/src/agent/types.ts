/**
 * The agent's shared types (a leaf: implementation files import their types from here).
 * @module
 */
import type { GroupTransport } from '@cpgkit/core';
import type { LocksCommand, LocksResult, LocksState } from '@cpgkit/locks';
import type { ReplicatedMap, ReplicatedStateMachine } from '@cpgkit/statemachine';
import type { MachineObserver } from './observer.js';

/** Where the agent stands. */
export type AgentState =
  /** Not connected to corosync (starting, or reconnecting after it died): `reason` says why. */
  | { readonly kind: 'connecting'; readonly attempt: number; readonly reason: string }
  /** Both machines are open (each has its own status: syncing, ready, minority). */
  | { readonly kind: 'running'; readonly replicas: Replicas }
  | { readonly kind: 'stopped' };

/** The open replicas of one connection. */
export interface Replicas {
  readonly kv: ReplicatedMap;
  readonly locks: ReplicatedStateMachine<LocksState, LocksCommand, LocksResult>;
  /** What each machine's events said on this connection. */
  readonly observers: { readonly store: MachineObserver; readonly locks: MachineObserver };
  /** The transports of the store's and the lock machine's groups (for queue depths). */
  readonly transports: { readonly store: GroupTransport; readonly locks: GroupTransport };
  /** When this connection was opened (ms, `performance.now()`). */
  readonly since: number;
}
