/**
 * Driving a sync round on one replica: a membership (or ring) change starts a round; every
 * member sends a summary of its state; once all are in (or the lowest member closes the round
 * without silent ones) sync.ts decides, identically everywhere; the leader sends its snapshot
 * to the targets (snapshot-transfer.ts); the round finishes: `Q`, the epoch and the members
 * step are applied, queued entries follow. Late summaries decide the round again.
 * Past 500 lines since wire version 5: a round's steps, read in order, now include driving a
 * snapshot sent and read in slices (the text and the chunks are snapshot-text.ts and
 * snapshot-transfer.ts); splitting the steps would scatter one protocol over several files.
 * @module
 */
import type { MemberId } from '@cpgkit/core';
import {
  Kind,
  jsonBody,
  packChunk,
  type SnapshotChunkHeader,
  type CloseBody,
  type Frame,
  type SummaryBody,
} from './wire.js';
import {
  compareMembers,
  decideFull,
  decideIncremental,
  memberKey,
  sameList,
  type Decision,
  type Summary,
} from './sync.js';
import { lastProven, type Image } from './image.js';
import { SnapshotDigestError } from './snapshot-text.js';
import {
  chunksComplete,
  snapshotChunks,
  SnapshotReceiver,
  type Transfer,
} from './snapshot-transfer.js';
import { SLICE_MS, SliceClock, nextSlice } from './slices.js';
import { quorateInRing } from './phase.js';
import type { LocalReplica, Round } from './local-replica.js';
import type { Acknowledgement } from './acknowledgement.js';
import type { BootstrapGate } from './bootstrap-gate.js';
import type { DeliveryHold } from './delivery-hold.js';
import type { EntryStream } from './entry-stream.js';
import type { ReplicaSet } from './replica-set.js';
import type { Timekeeper } from './timekeeper.js';

/**
 * The longest a summary fills its digest's cache at once, in the turn that asks for it, for
 * all the replicas on one slice time (slices.ts `inlineWork`: three replicas in one process
 * starting a round at one confchg took 8 ms each, 24 ms in one turn); the rest goes in slices.
 * Small states are digested at once (so the seeded tests' order of events does not depend on
 * the machine's load).
 */
const INLINE_WARM_MS = SLICE_MS;

/** The parts of a replica a round drives. */
export interface RoundParts<S, C, R> {
  readonly acks: Acknowledgement<S, C, R>;
  readonly stream: EntryStream<S, C, R>;
  readonly replicaSet: ReplicaSet<S, C, R>;
  readonly timekeeper: Timekeeper<S, C, R>;
  readonly gate: BootstrapGate;
  /** Group events wait here while a received snapshot is applied. */
  readonly hold: DeliveryHold;
}

/** What a round needs to know of the machine's options. */
export interface RoundOptions {
  /** ms after which the lowest member closes a round without its silent members. */
  readonly syncTimeout: number;
  /** The largest snapshot chunk in bytes. */
  readonly chunkSize: number;
}

/** The sync rounds of one replica. */
export class SyncRound<S, C, R> {
  private summarySeq = 0;
  /** A summary waits for its digest's cache to fill (see `sendSummary`). */
  private warming = false;
  /** Our summary waits for our disk to hold our lineage (see `sendSummary`). */
  private summaryWaits = false;

  constructor(
    private readonly r: LocalReplica<S, C, R>,
    private readonly parts: RoundParts<S, C, R>,
    private readonly options: RoundOptions,
  ) {
    parts.acks.diskCaughtUp = () => {
      if (this.summaryWaits) this.sendSummary();
    };
  }

  private roundKey(members: readonly MemberId[]): string {
    return `${members.map(memberKey).join(',')}|${this.r.ring?.id ?? '-'}`;
  }

  /**
   * Start a round among `members`.
   * @param split - the membership change took members away with their node (`nodedown`): the
   *   entries dropped here may be applied on the other side of a partition
   */
  start(members: readonly MemberId[], split = false): void {
    const r = this.r;
    r.round?.closeTimer?.cancel();
    const round: Round = {
      key: this.roundKey(members),
      members,
      summaries: new Map(),
      decision: undefined,
      done: false,
      seq: 0,
      synced: new Set(),
      knownNodes: 0,
      q: [],
      gone: [],
      proven: { replicas: [], gone: [] },
      transfer: undefined,
      closeTimer: undefined,
    };
    r.round = round;
    if (r.tracing) r.log(`round ${round.key} starts`);
    this.parts.stream.dropQueued(split);
    this.parts.timekeeper.roundStarted();
    this.parts.acks.roundStarted();
    r.update();
    this.sendSummary();
    round.closeTimer = r.clock.setTimeout(() => this.maybeClose(round), this.options.syncTimeout);
  }

  /** The ring changed under the current round: start it again on the new ring. */
  ringChanged(): void {
    const round = this.r.round;
    if (round !== undefined) this.start(round.members);
  }

  /** Send (again) our summary for the current round. */
  sendSummary(): void {
    const r = this.r;
    const round = r.round;
    if (round === undefined || r.closed) return;
    if (r.hasState && !r.digestWarm(INLINE_WARM_MS, true)) {
      // The digest of a large state changed in many places since its last digest would stall
      // the event loop (about a second for a 100,000-key store just filled): fill its cache in
      // slices (slices.ts), then send. The summary is still built in one go, from the image of
      // that moment.
      if (!this.warming) {
        if (r.tracing) r.log('summary waits for the digest');
        this.warming = true;
        void this.warmThenSend();
      }
      return;
    }
    // A summary is a vote that a quorate round may count: it says nothing our disk does not
    // hold. Killed after it counted, we come back with our disk's lineage; had the vote been
    // cast from a newer one (an epoch moved at a confchg, a round's end still being written),
    // we would come back more than one round behind what we voted in, and a round we then
    // make with replicas of our disk's `Q` could get a lower epoch than the forgotten one's
    // (sync.ts on the sync leader). So it waits for the write, as an ack does.
    if (r.hasState && !this.parts.acks.diskHoldsLineage()) {
      if (!this.summaryWaits && r.tracing) r.log('summary waits for the disk');
      this.summaryWaits = true;
      return;
    }
    this.summaryWaits = false;
    const img = r.image;
    const proven = lastProven(img);
    const gate = this.parts.gate;
    const inRing = quorateInRing(r.quorum, r.ring);
    const body: SummaryBody = {
      round: round.key,
      seq: ++this.summarySeq,
      epoch: img.epoch,
      settled: !r.hasState || img.settled >= img.epoch,
      index: img.index.toString(),
      digest: r.hasState ? r.digest() : '',
      primary: this.parts.replicaSet.primary && r.hasState && !r.dirty,
      fresh: !r.hasState,
      dirty: r.dirty,
      passive: r.passive,
      // the strict rule's claims, only while our node's view of this ring says quorate
      bootstrap: inRing && gate.mayBootstrap(),
      force: inRing && gate.force,
      quorate: r.quorum.local,
      ringNodes: r.ring?.nodes.length ?? 0,
      knownNodes: img.knownNodes.length,
      replica: r.replica,
      replicas: r.hasState ? img.replicas : [],
      gone: r.hasState ? img.gone : [],
      provenReplicas: r.hasState ? proven.replicas : [],
      provenGone: r.hasState ? proven.gone : [],
      time: r.clock.wallNow(),
    };
    if (r.tracing) r.log(`summary ${body.seq} for ${round.key}`);
    r.sendQuiet(r.frame(Kind.summary, jsonBody(body)));
  }

  private async warmThenSend(): Promise<void> {
    const r = this.r;
    do await nextSlice();
    while (!r.closed && r.hasState && !r.digestWarm(SLICE_MS));
    this.warming = false;
    this.sendSummary();
  }

  /** A member's summary. */
  onSummary(f: Frame, b: SummaryBody, sender: MemberId): void {
    const r = this.r;
    const round = r.round;
    const key = memberKey(sender);
    if (key !== r.selfKey()) {
      // The last member of our first view said it holds nothing (a client that was there
      // before us, say): we may start the store now; say so, or the round stays `nostate`.
      if (this.parts.gate.heard(key, b.fresh, b.passive) && round !== undefined && !r.hasState)
        queueMicrotask(() => this.sendSummary());
    }
    if (round === undefined || b.round !== round.key) return;
    if (!round.members.some((m) => memberKey(m) === key)) return;
    const prev = round.summaries.get(key);
    if (prev !== undefined && prev.seq >= b.seq) return;
    // parseSummaryBody built `b` field by field: nothing but the summary's fields to spread
    const { round: _round, index, ...fields } = b;
    const s: Summary = {
      key,
      nodeid: sender.nodeid,
      pid: sender.pid,
      incarnation: f.incarnation,
      ...fields,
      index: BigInt(index),
    };
    round.summaries.set(key, s);
    if (r.tracing) r.log(`summary ${b.seq} of ${key}`);
    if (round.decision === undefined) {
      if (round.members.every((m) => round.summaries.has(memberKey(m))))
        this.decide(round, decideFull([...round.summaries.values()]));
      return;
    }
    this.redecide(round, key);
  }

  private maybeClose(round: Round): void {
    const r = this.r;
    if (r.round !== round || round.decision !== undefined || r.closed) return;
    const keys = [...round.summaries.keys()];
    const lowest = [...round.summaries.values()].sort(compareMembers)[0];
    if (lowest !== undefined && lowest.key === r.selfKey()) {
      r.log(
        `closing sync round without silent members (${round.members.length - keys.length} silent)`,
      );
      r.sendQuiet(r.frame(Kind.close, jsonBody({ round: round.key, participants: keys })));
    }
    round.closeTimer = r.clock.setTimeout(() => this.maybeClose(round), this.options.syncTimeout);
  }

  /** The lowest member closed the round without its silent members. */
  onClose(b: CloseBody): void {
    const round = this.r.round;
    if (round === undefined || round.decision !== undefined || b.round !== round.key) return;
    const parts = b.participants
      .map((k) => round.summaries.get(k))
      .filter((s): s is Summary => s !== undefined);
    if (parts.length === 0) return;
    this.decide(round, decideFull(parts));
    // summaries that arrived after the close was sent: the same at this point everywhere
    for (const late of [...round.summaries.keys()].filter((k) => !parts.some((p) => p.key === k)))
      this.redecide(round, late);
  }

  private redecide(round: Round, key: string): void {
    if (round.decision === undefined) return;
    const d = decideIncremental(
      round.decision,
      round.summaries,
      round.synced,
      key,
      round.knownNodes,
      round.q,
      round.gone,
      round.proven,
    );
    if (d === 'restart') {
      this.r.log(`sync ${round.key}: ${key} holds a newer state; deciding the round again`);
      this.start(round.members);
    } else if (d !== undefined) this.decide(round, d);
  }

  private decide(round: Round, d: Decision): void {
    const r = this.r;
    r.quorum.cutOff = false;
    r.refresh();
    round.decision = d;
    round.seq++;
    round.transfer = undefined;
    const tag = `${round.key}#${round.seq}`;
    const me = r.selfKey();
    r.log(
      `sync ${tag}: ${d.mode} quorate=${d.quorate} leader=${d.leader?.key ?? '-'} targets=[${d.targets.join(' ')}] epoch=${d.epoch}`,
    );
    if (d.leader !== undefined && d.mode !== 'bootstrap') round.knownNodes = d.leader.knownNodes;
    round.q = d.replicas;
    round.gone = d.quorate ? [] : (d.leader?.gone ?? []);
    round.proven = { replicas: d.provenReplicas, gone: d.provenGone };
    if (!r.participates(d)) {
      // The round was closed without us. Until a decision includes us, the participants'
      // entries are theirs (we get their result as a snapshot once our summary is in), so
      // nothing queued or delivered now is ours to apply. The round's bookkeeping (synced,
      // transfer) still follows the decision, so that our next decisions equal theirs.
      round.done = false;
      this.parts.replicaSet.leaveLineage();
      r.quorum.decided = false;
      this.parts.acks.stateReplaced();
      this.parts.stream.forgetQueued();
      r.update();
    }
    switch (d.mode) {
      case 'nostate':
        round.done = false;
        r.update();
        return;
      case 'bootstrap':
        if (r.participates(d)) {
          r.image = r.initialImage(d.epoch);
          r.hasState = true;
          r.dirty = false;
        }
        this.finish(round, d);
        return;
      case 'none':
        this.finish(round, d);
        return;
      case 'transfer': {
        const targets = new Set(d.targets);
        for (const t of targets) round.synced.delete(t);
        if (me !== undefined && targets.has(me)) {
          this.parts.replicaSet.leaveLineage();
          this.parts.acks.stateReplaced();
        }
        const receiving = me !== undefined && targets.has(me);
        const transfer: Transfer = {
          tag,
          leader: d.leader!.key,
          targets,
          parts: [],
          ...(receiving
            ? {
                receiver: new SnapshotReceiver(
                  () => r.closed || round.transfer !== transfer,
                  new SliceClock(r.sliceTime),
                  r.def.snapshotRecord?.bind(r.def),
                ),
              }
            : {}),
        };
        round.transfer = transfer;
        round.done = false;
        r.update();
        if (me === undefined || !r.participates(d)) return;
        if (d.leader!.key === me) this.sendSnapshot(tag);
        return;
      }
    }
  }

  /**
   * Send the image of this point of the stream to the round's targets: its chunks are written
   * in slices of at most `SLICE_MS` (the image is immutable, so the replica may go on
   * meanwhile) and each is sent as soon as it is written, so that the network and the targets
   * work on the first parts while the leader writes the rest.
   */
  private sendSnapshot(tag: string): void {
    const r = this.r;
    const image = r.image;
    const digest = r.digest();
    // A later decision of the round (a late summary) replaces this transfer: its receivers
    // ignore this tag from then on, so stop writing and sending it.
    const stale = (): boolean => r.closed || r.round?.transfer?.tag !== tag;
    void (async () => {
      let i = 0;
      let bytes = 0;
      // One send per chunk: a batch of several chunks could exceed the message limit.
      const clock = new SliceClock(r.sliceTime);
      for await (const c of snapshotChunks(image, this.options.chunkSize, stale, clock)) {
        if (stale()) {
          r.log('snapshot not sent further: closed, or replaced by a later decision');
          return;
        }
        const header: SnapshotChunkHeader = { tag, i: i++, last: c.last, digest };
        bytes += c.bytes.length;
        try {
          await r.group.send(r.frame(Kind.snapshot, packChunk(header, c.bytes)));
        } catch (e) {
          r.log(`snapshot send failed: ${String(e)}`);
          return;
        }
      }
      r.log(`sent snapshot ${tag}: ${bytes} bytes in ${i} chunks`);
    })();
  }

  /** A snapshot chunk from the round's leader. */
  onChunk(f: Frame, h: SnapshotChunkHeader, bytes: Uint8Array, sender: MemberId): void {
    const r = this.r;
    const round = r.round;
    const t = round?.transfer;
    if (round === undefined || t === undefined) return;
    if (h.tag !== t.tag || memberKey(sender) !== t.leader) return;
    if (r.tracing) r.log(`chunk ${h.i + 1}${h.last ? ' (last)' : ''} of ${h.tag}`);
    const me = r.selfKey() ?? '';
    if (t.targets.has(me)) {
      const chunk = bytes.slice();
      t.parts[h.i] = chunk;
      t.receiver?.push(h.i, chunk);
    }
    if (!h.last) return;
    if (!t.targets.has(me)) {
      this.finish(round, round.decision!);
      return;
    }
    const got = chunksComplete(t.parts, h.i + 1);
    if ('missing' in got) {
      // Chunks were lost: only a partition cuts a sender's stream short, so a membership
      // change follows and starts a new round. Never read what is there.
      r.log(`snapshot ${t.tag} incomplete (${got.got} of ${h.i + 1} chunks): refused`);
      round.transfer = undefined;
      return;
    }
    // Built and digested in slices; the group's events wait meanwhile (delivery-hold.ts), so
    // the round finishes at this point of the stream, as everywhere else.
    const hold = this.parts.hold;
    hold.hold();
    void this.receiveSnapshot(t, h.digest)
      .then(
        (got) => {
          if (r.closed) return;
          if (got === undefined) r.dirty = true;
          else if (got instanceof SnapshotDigestError) {
            // refused before use: this replica keeps what it had, dirty, and waits
            r.reportMismatch(got.digest, got.expected, sender, f.incarnation);
            r.dirty = true;
          } else {
            const image = got;
            r.image = image;
            r.hasState = true;
            r.dirty = false;
            this.parts.acks.setCommitted(0n, false);
            const mine = r.digest();
            if (mine !== h.digest) {
              r.reportMismatch(mine, h.digest, sender, f.incarnation);
              r.dirty = true;
            }
          }
          this.finish(round, round.decision!);
        },
        (e: unknown) => {
          // not expected (receiveSnapshot catches what a malformed snapshot throws)
          r.log(`snapshot ${t.tag} failed: ${String(e)}`);
          r.markDirty();
          this.finish(round, round.decision!);
        },
      )
      .finally(() => hold.release());
  }

  /**
   * The image of a snapshot's bytes, built and digested in slices of at most `SLICE_MS`, when
   * its digest is `expected` (the leader's); the `SnapshotDigestError` when it is not (the
   * image is not to be used); `undefined` when the bytes are malformed or the replica closed
   * meanwhile.
   */
  private async receiveSnapshot(
    t: Transfer,
    expected: string,
  ): Promise<Image<S> | SnapshotDigestError | undefined> {
    const r = this.r;
    try {
      // read while the chunks came, unless they came out of order (then from the start)
      let receiver = t.receiver as SnapshotReceiver<S> | undefined;
      if (receiver === undefined || receiver.broken) {
        receiver = new SnapshotReceiver<S>(
          () => r.closed,
          new SliceClock(r.sliceTime),
          r.def.snapshotRecord?.bind(r.def),
        );
        for (const [i, p] of t.parts.entries()) receiver.push(i, p);
      }
      const image = await receiver.verifiedImage(expected);
      if (image === undefined || r.closed) return undefined;
      if (r.tracing) r.log(`snapshot ${t.tag} read and digested`);
      return image;
    } catch (e) {
      r.log(`snapshot ${t.tag} unusable: ${String(e)}`);
      return e instanceof SnapshotDigestError ? e : undefined;
    }
  }

  private finish(round: Round, d: Decision): void {
    const r = this.r;
    const { acks, replicaSet, stream, timekeeper } = this.parts;
    round.transfer = undefined;
    round.synced = new Set(d.participants.map((p) => p.key));
    if (!r.participates(d)) return;
    round.done = true;
    r.quorum.decided = d.quorate;
    r.refresh();
    replicaSet.roundFinished(d);
    r.image = {
      ...r.image,
      epoch: d.epoch,
      // the last proven `Q` of the round's state (a quorate round's epoch is unproven yet)
      provenReplicas: d.provenReplicas,
      provenGone: d.provenGone,
    };
    if (d.quorate && r.hasState) {
      this.parts.gate.quorateRoundFinished();
      acks.settleReplaced();
      if (!sameList(r.image.replicas, d.replicas) || r.image.gone.length > 0)
        r.image = { ...r.image, replicas: d.replicas, gone: [] };
      const nodes = r.ring?.nodes ?? [];
      const known = [...new Set([...r.image.knownNodes, ...nodes])].sort((a, b) => a - b);
      if (known.length !== r.image.knownNodes.length) r.image = { ...r.image, knownNodes: known };
      round.knownNodes = known.length;
      // The round's epoch, `Q` and `gone` go to the disk now, before the round's step of the
      // state (the members step below, the queued entries): our ack of the epoch waits for
      // this write (proof-gate.ts), which then runs while this turn goes on rather than after
      // it. The step follows in the journal's next write, as any entry does.
      r.persistReplicaSet();
    }
    r.events.notify({
      kind: 'sync',
      state: r.image.state,
      epoch: r.image.epoch,
      index: r.image.index,
    });
    if (d.quorate && r.hasState) {
      stream.reconcileMembers(d);
      // Every participant holds this state now, and they are all of the new `Q`.
      replicaSet.qChanged(r.image.index);
      // what the round ended with commits once its epoch is proven (acknowledgement.ts)
      acks.roundEnded(r.image.index);
      // An ack of the new epoch proves to the others that we hold the new `Q` (replica-set.ts).
      acks.schedule();
    }
    stream.applyQueued();
    r.update();
    r.persistSoon();
    // A dirty replica asks again for a snapshot only when the round has a clean holder to send
    // it; alone with no clean holder it waits quietly for a membership change to bring one.
    // Right after a snapshot of this round whose digest was not the leader's, it waits for the
    // next digest check instead (asking again at once could repeat the same transfer forever).
    const me = r.selfKey();
    if (
      r.dirty &&
      d.leader !== undefined &&
      !d.leader.dirty &&
      d.leader.key !== me &&
      !(me !== undefined && d.targets.includes(me))
    )
      this.sendSummary();
    timekeeper.scheduleCheck(0);
  }
}
