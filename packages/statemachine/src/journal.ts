/**
 * What a persisting replica writes, and when: the immer patches of every change since the
 * last write, appended to the log as one record per batch; a whole snapshot instead when the
 * state did not come from recorded patches (a snapshot received in a sync, the first state) or
 * when the log has grown past the size of the last snapshot (and `compactBytes`). With a
 * `JournalSchedule`, it also decides when: at most once per `delay` ms (`soon`), at once
 * (`now`: a change of `Q`, `flush`), and a last time on close; writes never overlap.
 * @module
 */
import type { Patch } from 'immer';
import type { Clock, TimerHandle } from '@cpgkit/core';
import { jsonMetaOf, metaOf, type Image } from './image.js';
import type { SnapshotStore } from './persistence.js';
import { PersistFailedError } from './errors.js';

/** When a journal writes, and what: see `Journal.soon` and `Journal.now`. */
export interface JournalSchedule<S> {
  readonly clock: Clock;
  /** Write at most this often (ms). */
  readonly delay: number;
  /** The image to write, read when the queue gets to the write. */
  current(): Image<S>;
  /** Where failed writes are reported. */
  log(line: string): void;
  /**
   * `durability: 'fsync'`: `soon` writes at once, one write per delivered batch (everything
   * applied while a write runs goes into the next one: group commit).
   */
  readonly groupCommit?: boolean;
  /**
   * A write of `image` starts; the function returned is called once the write ended: `true`
   * when the image is on disk, `false` when the write failed.
   */
  starting?(image: Image<S>): (ok: boolean) => void;
  /** The write of the state at `index` failed (after `starting`'s function was told). */
  failed?(index: bigint, error: PersistFailedError): void;
}

/** A failed write is tried again after this long (ms) if nothing else wrote meanwhile. */
export const RETRY_FAILED_WRITE_MS = 1000;

/** The persisted history of one replica (see `SnapshotStore` for the files). */
export class Journal<S> {
  private pending: Patch[] = [];
  /**
   * Where in `pending` the last `replace` of each top-level member of an object state is,
   * while no later pending patch touches that member (see `pend`).
   */
  private lastReplace = new Map<string | number, number>();
  private timer: TimerHandle | undefined;
  /** Tries a failed write again (see `RETRY_FAILED_WRITE_MS`). */
  private retry: TimerHandle | undefined;
  /** The queue of writes: each starts once the previous one is done. */
  private writing: Promise<void> = Promise.resolve();
  private stopped = false;
  /** A write is queued and has not started yet (it will take everything applied by then). */
  private queued = false;
  /** A write is running. */
  private running = false;
  /** The state the pending patches lead to. */
  private tip: S | undefined;
  /** The pending patches do not lead from the disk's state to `tip`: write a snapshot. */
  private broken = true;
  private lastMeta = '';

  /**
   * @param store - the files
   * @param compactBytes - a snapshot replaces the log once the log holds at least this many
   *   bytes and at least as many as the last snapshot
   */
  constructor(
    readonly store: SnapshotStore,
    private readonly compactBytes: number,
    private readonly schedule?: JournalSchedule<S>,
  ) {}

  /** A write is queued and has not started yet (it will write the image of that moment). */
  get writeQueued(): boolean {
    return this.queued;
  }

  /** A write is queued or running (its end is announced through the schedule's `starting`). */
  get busy(): boolean {
    return this.queued || this.running;
  }

  /** Write the current image within the schedule's `delay`, unless a write is already due. */
  soon(): void {
    const s = this.schedule;
    if (s === undefined || this.timer !== undefined || this.stopped) return;
    if (s.groupCommit === true) {
      if (!this.queued) this.now().catch(() => undefined);
      return;
    }
    this.timer = s.clock.setTimeout(() => {
      this.timer = undefined;
      this.now().catch(() => undefined);
    }, s.delay);
  }

  /**
   * Queue a write of the current image as it is when the queue gets to it (replacing a write
   * that `soon` scheduled). Rejects when that write fails (also logged). With no write queued
   * or running, it starts in this turn: the image is the caller's, and a small log record is
   * on its way to the disk before the caller's turn goes on (persistence.ts `append`), so a
   * round's end or a confchg that waits for its write overlaps the write with its own work.
   */
  now(): Promise<void> {
    const s = this.schedule!;
    this.timer?.cancel();
    this.timer = undefined;
    const idle = !this.queued && !this.running;
    this.queued = true;
    const run = async (): Promise<void> => {
      this.queued = false;
      this.running = true;
      const image = s.current();
      const ended = s.starting?.(image);
      try {
        await this.write(image);
      } catch (e) {
        this.running = false;
        ended?.(false);
        s.failed?.(image.index, PersistFailedError.writing(image.index, this.store.dir, e));
        this.retryLater();
        throw e;
      }
      this.running = false;
      ended?.(true);
    };
    // idle: the last write's step has ended (`running` is cleared before its end is told), and
    // nothing else waits on the queue, so the order of writes is kept
    const step = idle ? run() : this.writing.then(run);
    this.writing = step.catch((e: unknown) => s.log(`persist failed: ${String(e)}`));
    return step;
  }

  /** After a failed write: write again soon, unless a write is due anyway or we stopped. */
  private retryLater(): void {
    const s = this.schedule!;
    if (this.stopped || this.retry !== undefined) return;
    this.retry = s.clock.setTimeout(
      () => {
        this.retry = undefined;
        if (!this.stopped && !this.queued) this.now().catch(() => undefined);
      },
      Math.max(s.delay, RETRY_FAILED_WRITE_MS),
    );
  }

  /**
   * No more scheduled writes: with `last`, write the current image once more; wait for the
   * queue, close the store.
   */
  async close(last: boolean): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    this.timer = undefined;
    this.retry?.cancel();
    this.retry = undefined;
    if (last) await this.now().catch(() => undefined);
    await this.writing;
    await this.store.close().catch(() => undefined);
  }

  /** `state` was just loaded from the store: later patches extend it. */
  loaded(state: S): void {
    this.tip = state;
    this.broken = false;
    this.takePending();
  }

  /** A change from `prev` to `next` by `patches` (immer's `produceWithPatches`). */
  record(prev: S, next: S, patches: readonly Patch[]): void {
    if (prev !== this.tip) this.broken = true;
    else if (!this.broken) {
      // a plain object's members are independent; an array's are not (an `add` moves its
      // `length`), and a Map or a Set is left as immer wrote it
      const proto: unknown =
        typeof next === 'object' && next !== null ? Object.getPrototypeOf(next) : 0;
      const plain = proto === Object.prototype || proto === null;
      for (const p of patches) this.pend(p, plain);
    }
    this.tip = next;
  }

  /**
   * Add one patch to the next record. A `replace` of a top-level member of an object state
   * (a counter: the map's `revision`, `count`, `bytes`, at every command) takes the place of
   * the member's last pending `replace` when no pending patch since touched that member: the
   * record applies to the same state, and a record of N commands holds one such patch
   * instead of N (each was built as JSON, hashed and written).
   */
  private pend(p: Patch, plain: boolean): void {
    const path = p.path;
    const last = this.lastReplace;
    if (path.length === 0) last.clear();
    else if (plain && path.length === 1 && p.op === 'replace') {
      const at = last.get(path[0]!);
      if (at !== undefined) {
        this.pending[at] = p;
        return;
      }
      last.set(path[0]!, this.pending.length);
    } else if (last.size > 0) last.delete(path[0]!);
    this.pending.push(p);
  }

  /** The pending patches, handed over (the next record starts empty). */
  private takePending(): Patch[] {
    const patches = this.pending;
    this.pending = [];
    this.lastReplace.clear();
    return patches;
  }

  /**
   * Make `image` durable: one log record with the pending patches and its metadata, or a
   * snapshot. Calls must not overlap. Reads `image` and the pending patches synchronously.
   */
  async write(image: Image<S>): Promise<void> {
    const store = this.store;
    const meta = JSON.stringify(jsonMetaOf(image));
    if (
      this.broken ||
      image.state !== this.tip ||
      store.logSize >= Math.max(this.compactBytes, store.snapshotSize)
    ) {
      this.takePending();
      this.tip = image.state;
      this.broken = false;
      this.lastMeta = meta;
      try {
        await store.save(image);
      } catch (e) {
        this.broken = true;
        throw e;
      }
      return;
    }
    if (this.pending.length === 0 && meta === this.lastMeta) return;
    const patches = this.takePending();
    this.lastMeta = meta;
    try {
      await store.append({ ...metaOf(image), patches });
    } catch (e) {
      this.broken = true;
      throw e;
    }
  }
}
