/**
 * Durable acknowledgement (`durability: 'fsync'`): which index a strict majority of the replica
 * set `Q` holds on disk. Each persisting replica says in its acks the index its last completed
 * write (fdatasync'd) holds (`d`); this module keeps what it heard in the round and what this
 * replica's own disk holds. Pure bookkeeping: the machine decides when to write and when to ack.
 * @module
 */
import { commitIndex } from './acks.js';

/**
 * When `dispatch` resolves, and what an acknowledged write survives (see README, "Durability").
 * - `'memory'`: once a strict majority of `Q` applied the command in memory; each replica writes
 *   it to disk within `persistDelay` (50 ms). Survives process crashes and any one node's power
 *   loss, not the power loss of a majority within those 50 ms.
 * - `'fsync'`: once a strict majority of `Q` has it on disk (fdatasync'd; one write per delivered
 *   batch: group commit). Survives the power loss of every node. A replica in this mode says so
 *   in its acks, and every member that hears it (clients included) then waits for disks too,
 *   and a persisting replica in `'memory'` mode then reports its disk as well. It is the
 *   replicas' setting: on a client (`passive`) it has no effect.
 */
export type Durability = 'memory' | 'fsync';

/** A write that started: what it holds, and whether the state was replaced meanwhile. */
export interface DiskWrite {
  readonly index: bigint;
  readonly generation: number;
}

/** What this replica and the others of `Q` hold on disk, as far as heard in this round. */
export class DiskProgress {
  private own = 0n;
  private generation = 0;
  private readonly heard = new Map<string, bigint>();
  private fsyncHeard = false;

  /** The index this replica's disk holds (of the current state's history). */
  get self(): bigint {
    return this.own;
  }

  /** The state was loaded from disk at `index`. */
  loaded(index: bigint): void {
    this.own = index;
  }

  /**
   * The state was replaced (a snapshot received in a sync): what the disk holds belongs to
   * another history until the next write, and writes in flight do not count.
   */
  replaced(): void {
    this.own = 0n;
    this.generation++;
  }

  /** A write of the state at `index` starts. */
  begin(index: bigint): DiskWrite {
    return { index, generation: this.generation };
  }

  /** The write `w` is on disk; true when this replica's durable index moved. */
  written(w: DiskWrite): boolean {
    if (w.generation !== this.generation || w.index <= this.own) return false;
    this.own = w.index;
    return true;
  }

  /** A new round: acks of earlier rounds no longer count. */
  roundStarted(): void {
    this.heard.clear();
  }

  /**
   * A replica of `Q` that runs `durability: 'fsync'` acked (once heard, for this member's
   * lifetime): the group's writes are meant to be acknowledged on disk, whoever sends them.
   */
  get fsyncReplicas(): boolean {
    return this.fsyncHeard;
  }

  /**
   * Replica `replica` said its disk holds `index` (`fsync`: it runs `durability: 'fsync'`);
   * true when that is news.
   */
  heardFrom(replica: string, index: bigint, fsync = false): boolean {
    const news = fsync && !this.fsyncHeard;
    if (fsync) this.fsyncHeard = true;
    if (index <= (this.heard.get(replica) ?? 0n)) return news;
    this.heard.set(replica, index);
    return true;
  }

  /** Replica `replica` said in this round that its disk holds `index` or more. */
  heardAtLeast(replica: string, index: bigint): boolean {
    return (this.heard.get(replica) ?? 0n) >= index;
  }

  /**
   * The highest index a strict majority of `q` holds on disk, `self` counting with this
   * replica's own disk (`persisting`: false for a member without a data directory).
   */
  majorityIndex(q: readonly string[], self: string, persisting: boolean): bigint {
    return commitIndex(q, self, persisting ? this.own : 0n, this.heard);
  }
}
