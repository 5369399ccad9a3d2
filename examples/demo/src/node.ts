/**
 * What the demo's script talks to: one cluster node (a member process on it), whether that
 * process is this one (the in-memory cluster) or a child in the node's network namespace
 * (real corosync). Every call is async so both look the same.
 * @module
 */
import type { NodeRow } from './view.js';

/** Something a node saw happen, reported as it happens. */
export type NodeEvent =
  /** The leader of the demo's election as this node observes it. */
  | { readonly type: 'leader'; readonly leader: number | null; readonly term: number }
  /** This node won an election (it leads for `term`). */
  | { readonly type: 'elected'; readonly term: number }
  /** This node's leadership ended (quorum lost, evicted, resigned). */
  | { readonly type: 'deposed'; readonly term: number; readonly reason: string }
  /** A config change arrived through this node's watch. */
  | {
      readonly type: 'config';
      readonly key: string;
      readonly value: unknown;
      readonly revision: string;
    }
  /** This node's replica changed status (`ready`, `syncing`, `minority`...). */
  | { readonly type: 'status'; readonly status: string };

/** The result of holding a lock once. */
export interface LockTurn {
  /** The fencing token of the grant (a decimal string: tokens are bigints). */
  readonly token: string;
  /** How long the node waited for the grant (ms). */
  readonly waitedMs: number;
}

/** One node of the demo's cluster. */
export interface DemoNode {
  /** The cluster node id (1..3). */
  readonly node: number;
  /** Resolves once this node's replicas are synced and quorate. */
  ready(timeoutMs: number): Promise<void>;
  /** Write `key` in the replicated config store; resolves with the store's new revision. */
  set(key: string, value: unknown): Promise<string>;
  /** Acquire the lock `name`, hold it for `holdMs`, release it. */
  lockTurn(name: string, holdMs: number, timeoutMs: number): Promise<LockTurn>;
  /** What the panel shows for this node, read locally (no network). */
  row(): Promise<NodeRow>;
  /** The digests of this node's replicated state machines (config store, locks), in a fixed order. */
  digests(): Promise<string[]>;
  /** Subscribe to what this node sees happen. */
  onEvent(listener: (event: NodeEvent) => void): void;
  /** Stop the member (leave the group). */
  close(): Promise<void>;
}

/** Faults and the cluster as a whole. */
export interface ClusterControl {
  readonly transport: 'memory' | 'corosync';
  readonly nodes: readonly DemoNode[];
  /** Cut node `n` off from the others (a partition both sides survive). */
  isolate(n: number): Promise<void>;
  /** Reconnect every node. */
  heal(): Promise<void>;
  /** Stop every node and release what the cluster holds. */
  close(): Promise<void>;
}
