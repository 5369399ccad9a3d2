/**
 * The embedded cluster as an application transport: the in-memory cluster on real time
 * (`embeddedCluster`), and, for demos and development only, `corosyncOrEmbedded`, which uses
 * corosync when it is reachable and an embedded cluster otherwise, and says which.
 * @module
 */
import { corosync, type CorosyncOptions } from './corosync/transport.js';
import type { DriverSink, Transport } from './driver.js';
import { CorosyncNotRunningError } from './errors.js';
import { Group, type GroupOptions } from './group.js';
import { MemoryCluster, type MemoryClusterOptions } from './sim/cluster.js';

/** Options of `embeddedCluster`: those of `MemoryCluster`, whose clock is the real one here. */
export type EmbeddedClusterOptions = Omit<MemoryClusterOptions, 'realTime'>;

/**
 * An embedded cluster: `nodes` simulated corosync nodes in this process, with corosync CPG's
 * semantics (agreed order, membership, partitions, quorum), on REAL time: timeouts, leases and
 * `after` delays run on the wall clock, with no `advance()` to call. Nothing leaves the
 * process: it replicates between members in this process only, so it suits demos,
 * development and single-process tools, not fault tolerance. Tests that want virtual time
 * (reproducible, no sleeping) use `virtualTimeCluster` from `@cpgkit/core/testing`.
 *
 * Members: `cluster.member(n)` (an unjoined `Group` on node `n`), or `cluster.processTransport(n)` (a
 * `Transport`). `cluster.destroy()` ends it.
 *
 * @example
 * ```ts
 * import { embeddedCluster } from '@cpgkit/core';
 * import { ReplicatedMap } from '@cpgkit/statemachine';
 * const cluster = embeddedCluster({ nodes: 3 });
 * const config = await ReplicatedMap.open(cluster.member(1), { groupName: 'config' });
 * ```
 */
export function embeddedCluster(options: EmbeddedClusterOptions = {}): MemoryCluster {
  return new MemoryCluster({ ...options, realTime: true });
}

/** Options of `corosyncOrEmbedded`. */
export interface CorosyncOrEmbeddedOptions {
  /** Options of the corosync transport that is tried first. */
  readonly corosync?: CorosyncOptions;
  /**
   * The transport to try first, instead of `corosync(options.corosync)`.
   * @defaultValue `corosync(options.corosync)`
   */
  readonly transport?: Transport;
  /**
   * The embedded cluster's options, when corosync is not reachable.
   * @defaultValue 3 nodes
   */
  readonly embedded?: EmbeddedClusterOptions;
  /**
   * Where the line that says which transport was chosen goes.
   * @defaultValue one line on stderr
   */
  readonly log?: (line: string) => void;
}

/** What `corosyncOrEmbedded` chose: corosync, or an embedded cluster, and why. */
export type TransportChoice = CorosyncChoice | EmbeddedChoice;

interface ChoiceBase {
  /** Why this transport, in words (also the line that was logged). */
  readonly reason: string;
  /** End the embedded cluster (nothing to do on corosync). Idempotent. */
  close(): void;
}

/** corosync was reachable: every member is a process of this node's corosync. */
export interface CorosyncChoice extends ChoiceBase {
  readonly kind: 'corosync';
  /** A new unjoined member on this machine's corosync (the `node` argument is not used). */
  member(node?: number, options?: GroupOptions): Group;
}

/** corosync was not reachable: members live on an embedded cluster in this process. */
export interface EmbeddedChoice extends ChoiceBase {
  readonly kind: 'embedded';
  /** The embedded cluster (real time): for faults in demos (`partition`, `heal`, ...). */
  readonly cluster: MemoryCluster;
  /** The error that said corosync is not reachable. */
  readonly cause: CorosyncNotRunningError;
  /** A new unjoined member on node `node` of the embedded cluster. @defaultValue node 1 */
  member(node?: number, options?: GroupOptions): Group;
}

const IGNORE: DriverSink = {
  message() {},
  membership() {},
  totem() {},
  quorum() {},
  writable() {},
  lost() {},
};

/**
 * For demos and development ONLY: corosync when it is reachable, otherwise an embedded
 * cluster (`embeddedCluster`, real time, 3 nodes unless told), and it says which, loudly: one
 * line on stderr (or to `log`), and the choice's `kind` and `reason`. corosync counts as not
 * reachable when connecting rejects with `CorosyncNotRunningError` (the daemon is not running,
 * or libcpg is not installed: `LibraryNotFoundError`); any other error (such as
 * `AccessDeniedError`: corosync runs but refuses this user) rejects, since falling back would
 * hide it.
 *
 * Production code does not use this: it opens `corosync()` and lets a missing daemon be the
 * error it is. An application whose data must survive a machine must never fall back to a
 * cluster that lives in its own process.
 *
 * @example
 * ```ts
 * import { corosyncOrEmbedded } from '@cpgkit/core';
 * const choice = await corosyncOrEmbedded(); // logs: "cpgkit: ... using an EMBEDDED ..."
 * const locks = await Locks.open(choice.member(1), { groupName: 'locks' });
 * if (choice.kind === 'embedded') choice.cluster.partition([1], [2, 3]);
 * ```
 */
export async function corosyncOrEmbedded(
  options: CorosyncOrEmbeddedOptions = {},
): Promise<TransportChoice> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const transport = options.transport ?? corosync(options.corosync);
  let cause: CorosyncNotRunningError;
  try {
    const probe = await transport.connect(IGNORE, { dispatch: 'manual' });
    probe.close();
    const reason = `cpgkit: using corosync (${transport.kind} transport reachable)`;
    log(reason);
    return {
      kind: 'corosync',
      reason,
      member: (_node?: number, groupOptions?: GroupOptions) => new Group(transport, groupOptions),
      close() {},
    };
  } catch (err) {
    if (!(err instanceof CorosyncNotRunningError)) throw err;
    cause = err;
  }
  const cluster = embeddedCluster({ nodes: 3, ...options.embedded });
  const reason =
    `cpgkit: corosync is not reachable (${cause.name}: ${cause.message}); using an EMBEDDED ` +
    `in-process cluster of ${cluster.nodeIds.length} nodes on real time instead: nothing leaves ` +
    'this process. For demos and development only: production code opens corosync() and never ' +
    'falls back.';
  log(reason);
  return {
    kind: 'embedded',
    reason,
    cluster,
    cause,
    member: (node = 1, groupOptions?: GroupOptions) => cluster.member(node, groupOptions),
    close: () => cluster.destroy(),
  };
}
