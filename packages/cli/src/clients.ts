/**
 * How the client commands (`lock`, `leader`, `kv get/set/...`, `status`) reach the cluster: as
 * passive members (`role: 'client'`) of the groups that `cpgkit serve` holds. A client holds no
 * state and never counts in the replica set `Q`; what it holds (a lock, a leadership) belongs
 * to its incarnation and is released in the agreed step when it leaves or dies. With no replica
 * reachable it fails with `NoAgentError` within its timeout, never waits silently.
 * @module
 */
import { corosync, Group, TimeoutError, type GroupTransport, type MemberId } from '@cpgkit/core';
import { Locks, locksMachine } from '@cpgkit/locks';
import { ReplicatedMap, ReplicatedStateMachine, roleOptions } from '@cpgkit/statemachine';
import { groupNames } from './agent/group-names.js';
import { NoAgentError, noAgentMessage } from './errors.js';

/** How long a client waits for a replica when no `--timeout` bounds it, in seconds. */
export const DEFAULT_REPLICA_WAIT_S = 10;

/**
 * A new unjoined member of the cluster for a command: corosync. Tests point `open` at an
 * in-memory cluster (`MemoryCluster.member(n)`) to run the commands without corosync.
 */
export const cliTransport: { open: () => GroupTransport } = {
  open: () => new Group(corosync()),
};

/** Options of the client openers. */
export interface ClientOptions {
  /** The cpgkit group G (`--group`). */
  readonly group: string;
  /** How long to wait for a replica to send the state (ms). */
  readonly replicaWaitMs: number;
  readonly signal: AbortSignal;
  /** Diagnostics (`--verbose`). */
  readonly log?: (line: string) => void;
}

/**
 * Open a client of the store of `group` and wait until a replica sent it the store.
 * @throws NoAgentError when no replica does within `replicaWaitMs`
 */
export async function openStoreClient(o: ClientOptions): Promise<ReplicatedMap> {
  const names = groupNames(o.group);
  const transport = cliTransport.open();
  const kv = await ReplicatedMap.open(transport, {
    groupName: names.store,
    role: 'client',
    checkInterval: 0,
    signal: o.signal,
    timeout: o.replicaWaitMs,
    ...(o.log === undefined ? {} : { log: o.log }),
  });
  await waitForReplica(kv.machine, transport, o, names.store, () => kv.close());
  return kv;
}

/**
 * Open a client of the lock service of `group` and wait until a replica sent it the state
 * (`NoAgentError` after `replicaWaitMs`). Its requests then wait for a sync in progress and are
 * refused at once in a minority (`NoQuorumError`).
 */
export async function openLocksClient(o: ClientOptions): Promise<Locks> {
  const names = groupNames(o.group);
  const transport = cliTransport.open();
  const machine = await ReplicatedStateMachine.open(
    transport,
    locksMachine(),
    roleOptions({
      groupName: names.locks,
      role: 'client',
      checkInterval: 0,
      signal: o.signal,
      timeout: o.replicaWaitMs,
      ...(o.log === undefined ? {} : { log: o.log }),
    }),
  );
  const locks = new Locks(machine, { closeMachine: true });
  await waitForReplica(machine, transport, o, names.locks, () => locks.close());
  return locks;
}

async function waitForReplica(
  machine: { synced(o: { signal: AbortSignal; timeout: number }): Promise<void> },
  transport: GroupTransport,
  o: ClientOptions,
  groupName: string,
  close: () => Promise<void>,
): Promise<void> {
  try {
    await machine.synced({ signal: o.signal, timeout: o.replicaWaitMs });
  } catch (err) {
    const others = transport.joined ? otherMembers(transport.members(), transport.self) : 0;
    await close();
    if (err instanceof TimeoutError) {
      throw new NoAgentError(
        noAgentMessage(o.group, groupName, others, Math.round(o.replicaWaitMs / 100) / 10),
        { cause: err },
      );
    }
    throw err;
  }
}

function otherMembers(members: readonly MemberId[], self: MemberId): number {
  return members.filter((m) => m.nodeid !== self.nodeid || m.pid !== self.pid).length;
}
