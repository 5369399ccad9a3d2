/**
 * The agreed stream of entries (`command`, `tick`, `retire`) on one replica: queued while a
 * sync round is open for us, dropped when the round's decision left us out, otherwise applied
 * (apply.ts, pure) in delivery order, refused identically on every member of a component
 * that is not quorate. What follows an apply (subscribers, acks, persistence, the next tick)
 * starts here.
 * @module
 */
import { InterruptedError, type MemberId } from '@cpgkit/core';
import type { Patch } from 'immer';
import { CommandFailedError, NoQuorumError, OutcomeUnknownError } from './errors.js';
import { Kind, type CommandBody, type Frame, type RetireBody } from './wire.js';
import { memberKey, type Decision } from './sync.js';
import { applyCommand, applyMembership, applyTick } from './apply.js';
import type { Incarnation } from './types.js';
import type { EntryBody, LocalReplica } from './local-replica.js';
import type { Acknowledgement } from './acknowledgement.js';
import type { ReplicaSet } from './replica-set.js';
import type { Timekeeper } from './timekeeper.js';

interface Queued {
  readonly frame: Frame;
  readonly body: EntryBody;
  readonly sender: MemberId;
}

/** Applies (or queues, or drops) the entries of the agreed stream on one replica. */
export class EntryStream<S, C, R> {
  private queue: Queued[] = [];
  /** `afterApply`'s work is queued for the end of this turn (once per delivered batch). */
  private afterQueued = false;

  constructor(
    private readonly r: LocalReplica<S, C, R>,
    private readonly acks: Acknowledgement<S, C, R>,
    private readonly replicaSet: ReplicaSet<S, C, R>,
    private readonly timekeeper: Timekeeper<S, C, R>,
  ) {}

  /** An entry delivered by the group, its body validated. */
  onEntry(f: Frame, body: EntryBody, sender: MemberId): void {
    const r = this.r;
    const round = r.round;
    if (round?.decision !== undefined && !r.participates(round.decision)) {
      // left out of the round's decision: the participants apply this; we get it with
      // our snapshot once our summary is in
      this.forget(f);
    } else if (round?.done !== true) {
      if (r.tracing) r.log(`queue ${f.kind} from ${memberKey(sender)}`);
      this.queue.push({ frame: f, body, sender });
    } else this.apply(f, body, sender);
  }

  /**
   * A new round starts. Entries queued in a round that never finished were delivered to the
   * members of the old view only: a joiner of this round never saw them, so nobody applies
   * them (identically on every member that passed through that view). Their senders retry.
   * Unless members left with their node (`split`): on their side of a partition the round may
   * have finished and applied them, so the outcome is unknown there.
   */
  dropQueued(split: boolean): void {
    const dropped = this.queue;
    this.queue = [];
    for (const q of dropped) {
      this.r.settleOwn(
        q.frame,
        undefined,
        split
          ? new OutcomeUnknownError(
              'dispatch: a partition interrupted the sync round that held the command; members on the other side may have applied it',
            )
          : new InterruptedError(
              'dispatch: interrupted by a membership change before it could be applied; it was not applied, retry',
            ),
      );
    }
  }

  /** The round's decision left us out: the participants apply what we queued, without us. */
  forgetQueued(): void {
    const dropped = this.queue;
    this.queue = [];
    for (const q of dropped) this.forget(q.frame);
  }

  /** The round finished for us: apply what was queued, in order. */
  applyQueued(): void {
    const queued = this.queue;
    this.queue = [];
    for (const q of queued) this.apply(q.frame, q.body, q.sender);
  }

  /** Drop an entry that the participants of the round apply without us (we were left out). */
  private forget(f: Frame): void {
    this.r.settleOwn(
      f,
      undefined,
      new OutcomeUnknownError(
        'dispatch: this member was left out of a sync round (stopped or too slow) while the command was in flight; the others may have applied it',
      ),
    );
  }

  /** The membership step of a quorate round: the definition's `onMembership`, as an entry. */
  reconcileMembers(d: Decision): void {
    const r = this.r;
    const now: Incarnation[] = d.participants.map((p) => ({
      nodeid: p.nodeid,
      pid: p.pid,
      incarnation: p.incarnation,
    }));
    const prev = r.image.state;
    const patches = r.journal === undefined ? undefined : ([] as Patch[]);
    const a = applyMembership(r.image, now, d.epoch, d.time, r.def, patches, r.log);
    if (a === undefined) return;
    if (patches !== undefined) r.journal!.record(prev, a.image.state, patches);
    r.image = a.image;
    r.events.notify(a.change);
  }

  private apply(f: Frame, b: EntryBody, sender: MemberId): void {
    const r = this.r;
    const mine = f.incarnation === r.incarnation;
    if (f.kind === Kind.tick) this.timekeeper.tickDelivered(mine);
    if (!r.quorum.decided || !r.hasState) {
      // refused, identically on every member of this (non-quorate) component
      if (r.tracing)
        r.log(`refuse ${f.kind} from ${memberKey(sender)} (quorate=${r.quorum.decided})`);
      if (mine) r.settleOwn(f, undefined, new NoQuorumError());
      return;
    }
    if (f.kind === Kind.retire) {
      if (this.replicaSet.applyRetire(f, b as RetireBody)) this.acks.schedule();
      return;
    }
    const body = b as CommandBody; // a tick's body has no `c`
    if (r.tracing)
      r.log(
        `apply ${f.kind === Kind.tick ? 'tick' : traceJson(body.c)} at ${r.image.index + 1n} from ${memberKey(sender)}`,
      );
    const prev = r.image.state;
    const patches = r.journal === undefined ? undefined : ([] as Patch[]);
    if (f.kind === Kind.tick) {
      const a = applyTick(r.image, body.t, r.def, patches, r.log);
      if (patches !== undefined) r.journal!.record(prev, a.image.state, patches);
      r.image = a.image;
      r.events.notify(a.change);
      this.acks.applied();
      this.afterApply();
      return;
    }
    const a = applyCommand(
      r.image,
      {
        command: body.c as C,
        sender: { nodeid: sender.nodeid, pid: sender.pid, incarnation: f.incarnation },
        commandId: f.commandId ?? '',
        t: body.t,
      },
      r.def,
      patches,
    );
    if (patches !== undefined && a.outcome.ok) r.journal!.record(prev, a.image.state, patches);
    r.image = a.image;
    r.events.notify(a.change);
    if (r.image.replicas.length <= 1) this.acks.catchUp();
    if (mine && f.commandId !== undefined) {
      const o = a.outcome;
      // a failure changed nothing: it needs no majority to be true
      if (!o.ok) r.settle(f.commandId, undefined, new CommandFailedError(o.message, o.name));
      else this.acks.ownApplied(f.commandId, a.image.index, o.result);
    }
    this.acks.commandApplied(f.incarnation);
    this.afterApply();
  }

  /**
   * What follows applying: persist soon, plan the next tick. Once per turn of the event loop,
   * after every entry the group delivered in it: planning a tick asks the definition for its
   * next deadline (the lock machine scans its locks) and replaces a timer, which per command
   * was a share of each command's CPU.
   */
  private afterApply(): void {
    if (this.afterQueued) return;
    this.afterQueued = true;
    queueMicrotask(() => {
      this.afterQueued = false;
      if (this.r.closed) return;
      this.r.persistSoon();
      this.timekeeper.scheduleTick();
    });
  }
}

/** A command for a trace line: never throws (a body is bounded, but a trace must not kill us). */
function traceJson(value: unknown): string {
  try {
    const text = JSON.stringify(value, (_k, v: unknown) =>
      typeof v === 'bigint' ? v.toString() : v,
    );
    return text === undefined ? String(text) : text.length > 200 ? `${text.slice(0, 200)}…` : text;
  } catch (e) {
    return `<${String(e)}>`;
  }
}
