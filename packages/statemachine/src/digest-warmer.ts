/**
 * Keeping a replica's digest ready: once its state has stayed the same for a moment after a
 * change (a burst of writes, a fill), the digest's cache is filled in the background, in
 * slices (slices.ts), so that the next summary or digest check costs nothing. Without it, the
 * first summary after a bulk load (a new member joining) waits for a whole-state digest:
 * about a second of CPU for 100,000 freshly written keys, on every member, before the round
 * can even be decided. A state still changing is left alone (the work would be redone).
 * @module
 */
import type { LocalReplica } from './local-replica.js';
import { SLICE_MS, nextSlice } from './slices.js';

/** How often the warmer looks whether the state changed (ms, real time). */
const LOOK_MS = 100;

/** The background digest of one replica. */
export class DigestWarmer<S, C, R> {
  private timer: ReturnType<typeof setInterval> | undefined;
  /** The state seen at the last look. */
  private seen: unknown;
  /** The state whose digest cache is full. */
  private warmed: unknown;
  private warming = false;

  constructor(private readonly r: LocalReplica<S, C, R>) {}

  /**
   * Start looking (real time: the digest is a matter of CPU, not of the replicated clock). On
   * the virtual clock of a seeded run a warm is never cut by the slice time (slices.ts), so it
   * runs in one go and only fills a cache: when it runs changes nothing a replica sends.
   */
  start(): void {
    this.timer ??= setInterval(() => this.look(), LOOK_MS);
    this.timer.unref();
  }

  /** Stop looking. */
  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  private look(): void {
    const r = this.r;
    const state = r.hasState ? r.image.state : undefined;
    const still = state === this.seen;
    this.seen = state;
    if (!still || state === undefined || state === this.warmed || this.warming || r.closed) return;
    this.warming = true;
    void this.warm(state).finally(() => (this.warming = false));
  }

  private async warm(state: S): Promise<void> {
    const r = this.r;
    // the slices stop as soon as the state moves on: the cache of what did not change stays;
    // the first one too waits for its turn (several replicas' warmers look at the same time)
    do await nextSlice();
    while (!r.closed && r.hasState && r.image.state === state && !r.digestWarm(SLICE_MS));
    if (r.hasState && r.image.state === state) this.warmed = state;
  }
}
