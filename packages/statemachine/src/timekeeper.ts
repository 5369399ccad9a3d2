/**
 * The timekeeper: the elected executor (the lowest non-passive participant of a quorate
 * round) proposes `tick` entries when the state's next deadline comes (replicated time), and
 * asks every member to compare state digests (`check`) after every sync and every
 * `checkInterval` ms. Every member answers a check with its digest at that point of the
 * agreed stream; digest-check.ts tallies them.
 * @module
 */
import type { MemberId, TimerHandle } from '@cpgkit/core';
import { Kind, jsonBody, type CheckBody, type DigestBody, type Frame } from './wire.js';
import { memberKey } from './sync.js';
import { tallyDigests, type Check } from './digest-check.js';
import type { LocalReplica } from './local-replica.js';

/** Ticks and digest checks of one replica. */
export class Timekeeper<S, C, R> {
  private tickTimer: TimerHandle | undefined;
  /** Our tick is sent and not yet delivered: propose no other. */
  private tickInFlight = false;
  private checkTimer: TimerHandle | undefined;
  private checkCounter = 0;
  private readonly checks = new Map<string, Check>();

  /**
   * @param checkInterval - ms between digest checks; 0: only after syncs
   */
  constructor(
    private readonly r: LocalReplica<S, C, R>,
    private readonly checkInterval: number,
  ) {}

  /** We are the elected executor of a ready replica. */
  get isExecutor(): boolean {
    const r = this.r;
    return r.phase.kind === 'ready' && r.executorKey() === r.selfKey();
  }

  /** A round starts: a tick in flight is dropped with the round's queue; checks are void. */
  roundStarted(): void {
    this.tickInFlight = false;
    this.checks.clear();
  }

  /** A tick entry was delivered (applied or refused). */
  tickDelivered(mine: boolean): void {
    if (mine) this.tickInFlight = false;
  }

  /** Plan the next tick (when we are the executor and the state has a deadline). */
  scheduleTick(): void {
    this.tickTimer?.cancel();
    this.tickTimer = undefined;
    const r = this.r;
    if (r.def.nextDeadline === undefined || this.tickInFlight || !this.isExecutor) return;
    const deadline = r.def.nextDeadline(r.image.state);
    if (deadline === undefined) return;
    const delay = deadline - r.clock.wallNow();
    this.tickTimer = r.clock.setTimeout(
      () => {
        this.tickTimer = undefined;
        if (!this.isExecutor || this.tickInFlight || r.closed) return;
        this.tickInFlight = true;
        const t = Math.max(r.clock.wallNow(), deadline);
        r.sendQuiet(r.frame(Kind.tick, jsonBody({ t })), () => {
          this.tickInFlight = false;
        });
      },
      Math.max(0, delay),
    );
  }

  /** Ask for a digest check in `delay` ms (the executor only), then every `checkInterval`. */
  scheduleCheck(delay: number): void {
    this.checkTimer?.cancel();
    this.checkTimer = undefined;
    const r = this.r;
    if (r.closed) return;
    this.checkTimer = r.clock.setTimeout(() => {
      this.checkTimer = undefined;
      if (r.executorKey() === r.selfKey() && r.synced) {
        const id = `${r.incarnation}:${++this.checkCounter}`;
        r.sendQuiet(r.frame(Kind.check, jsonBody({ id })));
      }
      if (this.checkInterval > 0) this.scheduleCheck(this.checkInterval);
    }, delay);
  }

  /** A check entry: send our digest at this point of the stream. */
  onCheck(b: CheckBody): void {
    const r = this.r;
    const round = r.round;
    if (round?.decision === undefined || !r.synced) return;
    const mine = r.digest();
    this.checks.set(b.id, {
      expected: round.decision.participants.map((p) => p.key),
      mine,
      index: r.image.index,
      got: new Map(),
    });
    r.sendQuiet(r.frame(Kind.digest, jsonBody({ id: b.id, digest: mine, index: r.image.index })));
  }

  /** A participant's digest: once all are in, a replica in the minority resyncs. */
  onDigest(f: Frame, b: DigestBody, sender: MemberId): void {
    const c = this.checks.get(b.id);
    if (c === undefined) return;
    c.got.set(memberKey(sender), b.digest);
    const tally = tallyDigests(c);
    if (tally === undefined) return;
    this.checks.delete(b.id);
    if (tally.digest === c.mine) return;
    const r = this.r;
    const from = r.round?.decision?.participants.find((p) => p.key === tally.from);
    r.reportMismatch(
      c.mine,
      tally.digest,
      from ?? sender,
      from?.incarnation ?? f.incarnation,
      c.index,
    );
    r.markDirty();
  }

  /** Stop every timer. */
  stop(): void {
    this.tickTimer?.cancel();
    this.checkTimer?.cancel();
  }
}
