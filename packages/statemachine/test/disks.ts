/**
 * Simulated disks around the real files of the tests' data directories: `SnapshotStore`'s two
 * writes (`append`, the log record plus fdatasync, and `save`, a snapshot) are wrapped per data
 * directory, so a test can freeze a replica's disk (writes wait), fill it (writes fail), lose
 * what a killed process had not written yet, and cut the power of all of them (every write not
 * yet started never reaches the file; the processes die). `vi.restoreAllMocks()` unwraps them.
 * With `CPGKIT_SLOW_DISKS=<maxMs>` (slow-disks.ts) each write first waits a random 0 to
 * `maxMs` real ms, as if it had not started yet: a power cut or kill meanwhile drops it. Under
 * this wrapper, crash-disks.ts ends the write a kill or power cut catches running.
 * @module
 */
import { vi } from 'vitest';
import { SnapshotStore } from '../src/persistence.js';
import { crashAll, crashAwareWrite, crashDir } from './crash-disks.js';
import { slowDiskPause, slowDisksOn } from './slow-disks.js';

/** The data directories' disks: frozen ones hold writes back; a power cut drops them. */
export class Disks {
  private readonly frozen = new Map<string, (() => void)[]>();
  private readonly fullNext = new Set<string>();
  /** Directories whose writes fail (a full disk). */
  readonly full = new Set<string>();
  /** Stores whose writes never reach the files any more (power cut, process killed). */
  private readonly dead = new WeakSet<SnapshotStore>();
  private readonly alive = new Set<SnapshotStore>();
  /** Writes (log records and snapshots) that reached each directory. */
  readonly writes = new Map<string, number>();

  constructor() {
    const before = (store: SnapshotStore): Promise<void> => {
      if (!this.dead.has(store)) this.alive.add(store);
      return this.ready(store);
    };
    const after = (store: SnapshotStore): void => {
      this.writes.set(store.dir, (this.writes.get(store.dir) ?? 0) + 1);
      if (this.fullNext.delete(store.dir)) this.full.add(store.dir);
    };
    for (const name of ['append', 'save'] as const) {
      const original = crashAwareWrite(name);
      vi.spyOn(SnapshotStore.prototype, name).mockImplementation(async function (
        this: SnapshotStore,
        ...args: unknown[]
      ) {
        await before(this);
        await original.apply(this, args);
        after(this);
      });
    }
  }

  /** The next write to `dir` lands; the ones after it fail (`full`) until it is emptied. */
  fullAfterNext(dir: string): void {
    this.fullNext.add(dir);
  }

  /** Writes to `dir` wait until `thaw(dir)`. */
  freeze(dir: string): void {
    if (!this.frozen.has(dir)) this.frozen.set(dir, []);
  }

  thaw(dir: string): void {
    const waiting = this.frozen.get(dir) ?? [];
    this.frozen.delete(dir);
    for (const w of waiting) w();
  }

  /** Every node loses power: no write of a store opened so far reaches its file any more. */
  powerCut(): void {
    crashAll();
    for (const s of this.alive) this.dead.add(s);
    this.alive.clear();
    const waiting = [...this.frozen.values()].flat();
    this.frozen.clear();
    for (const w of waiting) w();
  }

  /**
   * The process writing to `dir` was killed: its writes that had not reached the file (those
   * waiting on a frozen disk) never do, nor any later one of the stores opened so far.
   */
  lose(dir: string): void {
    crashDir(dir);
    for (const s of this.alive) {
      if (s.dir !== dir) continue;
      this.dead.add(s);
      this.alive.delete(s);
    }
    this.thaw(dir);
  }

  private async ready(store: SnapshotStore): Promise<void> {
    if (slowDisksOn()) await slowDiskPause();
    const waiting = this.frozen.get(store.dir);
    if (waiting !== undefined) await new Promise<void>((r) => waiting.push(r));
    if (this.dead.has(store)) throw new Error('EIO: the power is off');
    if (this.full.has(store.dir))
      throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
  }
}
