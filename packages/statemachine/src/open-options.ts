/**
 * The options of `ReplicatedStateMachine.open`.
 * @module
 */
import type { WaitOptions } from '@cpgkit/core';
import type { Durability } from './durability.js';

/** Options for `ReplicatedStateMachine.open`. */
export interface OpenOptions extends WaitOptions {
  /**
   * The group to join. `open` joins the (not yet joined) transport itself so that it sees the
   * membership change that includes it.
   * @defaultValue the machine's `name`
   */
  readonly groupName?: string;
  /**
   * Persist in this directory (crash-safe: a log of changes plus snapshots, see README,
   * "Durability"); restore from it on start. The directory
   * also keeps this member's replica id, so a restart with it counts as the same replica in
   * the replica set `Q` (see README, "Quorum rule").
   */
  readonly dataDir?: string;
  /**
   * A short-lived client (e.g. a one-shot CLI command): never the timekeeper, never starts a
   * store from the initial state; it waits for a replica that holds state.
   * @defaultValue false
   */
  readonly passive?: boolean;
  /**
   * `true`: may start from `definition.initial` when no member holds any state and none was
   * ever seen, once every node of the totem ring has a long-lived member in the group that
   * said it holds none (a brand-new cluster, all its nodes' replicas up). A member without
   * state cannot tell a brand-new cluster from one whose replicas are down or not started yet:
   * the first agent up after an outage, a replaced disk, a new node. A store started then is a
   * fork: when the others return, one of the two histories is lost, acknowledged writes and
   * grants with it.
   *
   * `'alone'`: may start one without waiting for a member on every node of the ring: for a
   * cluster you know to be brand new where not every node runs a replica (tests, demos, a
   * service on some of the nodes), opened once; never on a replaced disk or a new node of a
   * running cluster.
   *
   * `'force'`: the operator's escape hatch when a majority of the replica set `Q` is gone for
   * good (their disks lost). The first node-quorate round this member takes part in is
   * quorate whatever `Q` says; the newest state present in that round wins (this member's, or
   * `initial` when nobody present holds state) and `Q` restarts from the round's members.
   * Acknowledged writes that only the lost replicas held are gone. Never automatic; use it on
   * one member, once, and open it normally afterwards.
   *
   * `false`: never.
   * @defaultValue `!passive`
   */
  readonly bootstrap?: boolean | 'alone' | 'force';
  /**
   * After this long (ms, on the group's clock) a sync round that silent members (programs that
   * do not speak the format) hold up is closed without them.
   * @defaultValue 3000
   */
  readonly syncTimeout?: number;
  /**
   * How often (ms) the timekeeper asks every member to compare state digests; 0 disables the
   * periodic check (digests are still checked after every sync).
   * @defaultValue 10000
   */
  readonly checkInterval?: number;
  /**
   * Persist (append the changes to the log) at most this often (ms), and on close.
   * @defaultValue 50
   */
  readonly persistDelay?: number;
  /**
   * With `dataDir`: a new snapshot replaces the log once the log holds this many bytes and at
   * least as many as the last snapshot.
   * @defaultValue 4 MiB
   */
  readonly compactLogBytes?: number;
  /** The largest snapshot chunk in bytes. @defaultValue min(512 KiB, group.maxMessageSize - 1 KiB) */
  readonly maxChunkSize?: number;
  /**
   * When `dispatch` resolves. `'majority'`: once a strict majority of the replica set `Q`
   * applied the command (each replica announces what it applied; one more agreed message per
   * batch), so an acknowledged command survives any partition. `'local'`: as soon as this
   * member applied it (lower latency), at the risk that a partition at that instant
   * delivered it on this member's side only and a majority goes on without it (see README,
   * "Durability, and where the guarantees end").
   * @defaultValue 'majority'
   */
  readonly acknowledge?: 'majority' | 'local';
  /**
   * What an acknowledged write survives (see README, "Durability"). `'memory'`: `dispatch`
   * resolves once a majority of `Q` applied the command in memory; each replica's disk has it
   * within `persistDelay`. `'fsync'`: once a majority of `Q` has it on disk (each replica
   * fdatasyncs once per delivered batch, and says so in its acks); needs `dataDir` and
   * `acknowledge: 'majority'`. It is the replicas' setting: a client (`passive`) ignores it and
   * follows what its replicas' acks say.
   * @defaultValue 'memory'
   */
  readonly durability?: Durability;
  /** Diagnostics (sync decisions, mismatches). @defaultValue none */
  readonly log?: (line: string) => void;
}
