/**
 * A crashed process's disks die with it: the in-memory cluster's `crashProcess` (`kill -9` of
 * a member's process) also kills, at the same instant, the data directories of the replicas
 * that process opened (crash-disks.ts `crashDir`), so that nothing they had not written yet
 * reaches the files after the crash, nor after the restart that opens the directory again.
 * `ReplicatedStateMachine.open` (which `ReplicatedMap` and `Locks` use too) is wrapped to learn
 * which group writes to which directory. Installed for every test file by
 * test-disks-setup.ts.
 *
 * `crashNode` is left alone: it stops the node's corosync, and its processes live on (they
 * write their data directories as they close, as a real process whose daemon died does). A
 * test that means the node's death (its replicas later reopen their directories) calls
 * `killNode`.
 * @module
 */
import { MemoryCluster } from '@cpgkit/core/testing';
import type { GroupTransport, MemberId } from '@cpgkit/core';
import { ReplicatedStateMachine } from '../src/index.js';
import { crashDir } from './crash-disks.js';

/** The groups that opened a replica with a data directory, and the directory. */
const opened: { group: GroupTransport; dir: string }[] = [];
let installed = false;

function selfOf(group: GroupTransport): MemberId | undefined {
  try {
    return group.self;
  } catch {
    return undefined; // not connected yet
  }
}

/** The data directories of the replicas that `member`'s process opened. */
export function dirsOf(member: GroupTransport | MemberId): string[] {
  const dirs: string[] = [];
  for (const o of opened) {
    if (o.group === member) dirs.push(o.dir);
    else if ('nodeid' in member) {
      const self = selfOf(o.group);
      if (self !== undefined && self.nodeid === member.nodeid && self.pid === member.pid)
        dirs.push(o.dir);
    } else if (!('nodeid' in member)) {
      const a = selfOf(o.group);
      const b = selfOf(member);
      if (a !== undefined && b !== undefined && a.nodeid === b.nodeid && a.pid === b.pid)
        dirs.push(o.dir);
    }
  }
  return dirs;
}

/**
 * Node `n` dies (power, kernel): its corosync stops (`crashNode`) and, at the same instant, the
 * data directories of the replicas its processes opened die with them (`crashDir`).
 */
export function killNode(cluster: MemoryCluster, n: number): void {
  for (const o of opened) if (selfOf(o.group)?.nodeid === n) crashDir(o.dir);
  cluster.crashNode(n);
}

/** Wrap `ReplicatedStateMachine.open` and `MemoryCluster.prototype.crashProcess` (once). */
export function installCrashedProcesses(): void {
  if (installed) return;
  installed = true;
  const open = ReplicatedStateMachine.open.bind(ReplicatedStateMachine);
  ReplicatedStateMachine.open = function (group, definition, options = {}) {
    if (options.dataDir !== undefined) opened.push({ group, dir: options.dataDir });
    return open(group, definition, options);
  };
  const crash = Object.getOwnPropertyDescriptor(MemoryCluster.prototype, 'crashProcess')!
    .value as MemoryCluster['crashProcess'];
  Object.defineProperty(MemoryCluster.prototype, 'crashProcess', {
    configurable: true,
    writable: true,
    value: function (this: MemoryCluster, member: GroupTransport | MemberId): void {
      // the disks first: the lost connections may close the replica in this turn, and a
      // killed process writes nothing as it "closes"
      for (const dir of dirsOf(member)) crashDir(dir);
      crash.call(this, member);
    },
  });
}
