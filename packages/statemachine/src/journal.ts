/**
 * What a persisting replica writes, and when: the immer patches of every change since the
 * last write, appended to the log as one record per batch; a whole snapshot instead when the
 * state did not come from recorded patches (a snapshot received in a sync, the first state) or
 * when the log has grown past the size of the last snapshot (and `compactBytes`).
 * @module
 */
import type { Patch } from 'immer';
import { jsonMetaOf, metaOf, type Image } from './image.js';
import type { SnapshotStore } from './persistence.js';

/** The persisted history of one replica (see `SnapshotStore` for the files). */
export class Journal<S> {
  private pending: Patch[] = [];
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
  ) {}

  /** `state` was just loaded from the store: later patches extend it. */
  loaded(state: S): void {
    this.tip = state;
    this.broken = false;
    this.pending = [];
  }

  /** A change from `prev` to `next` by `patches` (immer's `produceWithPatches`). */
  record(prev: S, next: S, patches: readonly Patch[]): void {
    if (prev !== this.tip) this.broken = true;
    else if (!this.broken) for (const p of patches) this.pending.push(p);
    this.tip = next;
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
      this.pending = [];
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
    const patches = this.pending;
    if (patches.length === 0 && meta === this.lastMeta) return;
    this.pending = [];
    this.lastMeta = meta;
    try {
      await store.append({ ...metaOf(image), patches });
    } catch (e) {
      this.broken = true;
      throw e;
    }
  }
}
