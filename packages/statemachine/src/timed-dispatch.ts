/**
 * A dispatch that waits with a `timeout` and no `signal` (a lock's release, for one): its
 * outcome and its timer in one object. Through `withWait`, each such dispatch made a waiter
 * (five closures, a second promise and a `then` on the first) around the dispatch's own
 * promise: a share of every lock command's CPU and garbage. Same behaviour: the timer is
 * cancelled when the dispatch settles, and once it fires the dispatch stops waiting (its entry
 * leaves the waiting dispatches) and rejects with a `TimeoutError`.
 * @module
 */
import { TimeoutError, type Clock, type Deferred, type TimerHandle } from '@cpgkit/core';

/** A waiting dispatch with a timeout (see the module comment). */
export class TimedDispatch implements Deferred<unknown> {
  readonly promise: Promise<unknown>;
  private res!: (value: unknown) => void;
  private rej!: (error: Error) => void;
  private readonly timer: TimerHandle;

  /**
   * @param waiting - the dispatches waiting by id; this one is `waiting.get(id)` until it settles
   * @param timeout - ms on `clock`
   */
  constructor(
    private readonly waiting: Map<string, Deferred<unknown>>,
    private readonly id: string,
    clock: Clock,
    private readonly timeout: number,
  ) {
    this.promise = new Promise<unknown>((res, rej) => {
      this.res = res;
      this.rej = rej;
    });
    // an unobserved rejection is not fatal (as `deferred`'s)
    this.promise.catch(() => undefined);
    this.timer = clock.setTimeout(() => this.expire(), timeout);
  }

  resolve(value: unknown): void {
    this.timer.cancel();
    this.res(value);
  }

  reject(error: Error): void {
    this.timer.cancel();
    this.rej(error);
  }

  private expire(): void {
    if (this.waiting.get(this.id) !== this) return;
    this.waiting.delete(this.id);
    this.rej(new TimeoutError(`dispatch: timed out after ${this.timeout} ms`));
  }
}
