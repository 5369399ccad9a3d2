/**
 * Holding a replica's group events while it applies a received snapshot in slices (see
 * sync-round.ts): every event delivered meanwhile waits here, in order, and is handled once
 * the snapshot is applied, exactly as if it had been delivered then. So a target applies the
 * agreed stream in the same order as without slices; it only sees it later, as a slow member
 * would.
 * @module
 */

/** The events waiting while a snapshot is applied. */
export class DeliveryHold {
  private queue: (() => void)[] | undefined;

  /** Whether events wait now. */
  get held(): boolean {
    return this.queue !== undefined;
  }

  /** Start holding (events handed to `run` wait from now on). */
  hold(): void {
    this.queue ??= [];
  }

  /** Handle `event` now, or after `release` while held. */
  run(event: () => void): void {
    if (this.queue !== undefined) this.queue.push(event);
    else event();
  }

  /**
   * Stop holding and handle the waiting events in order. An event that holds again stops the
   * replay there: the rest waits for the next release.
   */
  release(): void {
    const q = this.queue;
    this.queue = undefined;
    if (q === undefined) return;
    for (let i = 0; i < q.length; i++) {
      q[i]!();
      if (this.queue !== undefined) {
        (this.queue as (() => void)[]).unshift(...q.slice(i + 1));
        return;
      }
    }
  }

  /** Drop the waiting events (the replica closed). */
  clear(): void {
    this.queue = undefined;
  }
}
