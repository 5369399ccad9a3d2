/**
 * Routing the group's events to a replica's drivers: a confchg to the replica set and a new
 * sync round, a ring change and a quorum change to the round, and every message, validated
 * first (wire.ts), to the driver of its kind.
 * @module
 */
import type { MembershipEvent, MessageEvent, QuorumEvent, TotemEvent } from '@cpgkit/core';
import {
  Kind,
  decodeFrame,
  parseAckBody,
  parseCheckBody,
  parseChunkBody,
  parseCloseBody,
  parseCommandBody,
  parseDigestBody,
  parseRetireBody,
  parseSummaryBody,
  parseTickBody,
} from './wire.js';
import { compareMembers, memberKey } from './sync.js';
import { quorateInRing } from './phase.js';
import type { LocalReplica } from './local-replica.js';
import type { RoundParts } from './sync-round.js';
import type { SyncRound } from './sync-round.js';

/** The drivers a group event may reach. */
export interface RoutedParts<S, C, R> extends RoundParts<S, C, R> {
  readonly rounds: SyncRound<S, C, R>;
}

/** The group event handlers of one replica. */
export class GroupEvents<S, C, R> {
  constructor(
    private readonly r: LocalReplica<S, C, R>,
    private readonly p: RoutedParts<S, C, R>,
  ) {}

  /** A confchg of our group (waits while a snapshot is applied: delivery-hold.ts). */
  onMembership(e: MembershipEvent): void {
    this.p.hold.run(() => this.membership(e));
  }

  private membership(e: MembershipEvent): void {
    const r = this.r;
    if (r.closed) return;
    const me = r.selfKey();
    if (me === undefined) return;
    if (!e.members.some((m) => memberKey(m) === me)) {
      // evicted (or our own leave): stop replicating; the state stays readable
      if (this.r.group.joined) r.log('evicted from the group');
      return;
    }
    this.p.gate.joined(
      e.members.map(memberKey).filter((k) => k !== me),
      me,
    );
    this.p.replicaSet.onMembership(e);
    // members that left with their node may go on elsewhere (a partition), where a round can
    // finish and apply what our unfinished round drops
    const split = e.left.some((l) => l.reason === 'nodedown');
    this.p.rounds.start([...e.members].sort(compareMembers), split);
  }

  /** A new totem ring (the ring id is part of the round key). */
  onTotem(e: TotemEvent): void {
    this.p.hold.run(() => this.totem(e));
  }

  private totem(e: TotemEvent): void {
    const r = this.r;
    if (r.closed) return;
    const id = `${e.ringId.nodeid}.${e.ringId.seq}`;
    if (r.ring?.id === id) return;
    r.ring = { id, seq: e.ringId.seq, nodes: [...e.nodes].sort((a, b) => a - b) };
    this.p.gate.ringChanged(r.ring.nodes);
    this.p.rounds.ringChanged();
  }

  /** The node's quorum changed. */
  onQuorum(e: QuorumEvent): void {
    this.p.hold.run(() => this.quorum(e));
  }

  private quorum(e: QuorumEvent): void {
    const r = this.r;
    if (r.closed) return;
    const before = quorateInRing(r.quorum, r.ring);
    if (e.view !== undefined) r.quorum.viewRing = e.view.ringSeq;
    if (e.quorate === r.quorum.local) {
      // the same flag, for another ring: it matters to a summary's `bootstrap` and `force`
      if (quorateInRing(r.quorum, r.ring) !== before && r.round !== undefined)
        this.p.rounds.sendSummary();
      return;
    }
    r.quorum.local = e.quorate;
    r.events.emit({ type: 'quorum', quorate: e.quorate });
    r.update();
    if (r.round !== undefined) this.p.rounds.sendSummary();
  }

  /** Count and skip a message that is not ours, or whose body does not parse. */
  private skipForeign(): void {
    const r = this.r;
    r.foreignCount++;
    r.events.emit({ type: 'foreign', count: r.foreignCount });
  }

  /**
   * Every body is validated (wire.ts) before a handler sees it: a malformed one is counted as
   * foreign and skipped, identically on every member (they all receive the same bytes), so
   * it can neither throw out of a handler nor reach the replicated state.
   */
  onMessage(e: MessageEvent): void {
    // paced by its bytes: a backlog of bulk transactions is applied a slice per turn
    this.p.hold.run(() => this.message(e), e.data.byteLength);
  }

  private message(e: MessageEvent): void {
    if (this.r.closed) return;
    try {
      this.handleMessage(e);
    } catch (err) {
      // Nothing a member sends may throw out of the message path (the transport would
      // rethrow it as an uncaught exception). A throw here is a bug that may have left this
      // replica's state half-updated: it stops trusting its state and asks for a snapshot.
      this.r.log(`message handler failed (state marked dirty): ${String(err)}`);
      this.r.markDirty();
    }
  }

  private handleMessage(e: MessageEvent): void {
    const f = decodeFrame(e.data);
    if (f === undefined || f.name !== this.r.wireName) {
      this.skipForeign();
      return;
    }
    if (this.r.tracing && f.kind !== Kind.summary)
      this.r.log(`recv kind ${f.kind} from ${memberKey(e.sender)}`);
    switch (f.kind) {
      case Kind.command:
      case Kind.tick:
      case Kind.retire: {
        const body =
          f.kind === Kind.command
            ? parseCommandBody(f.data, f.bodyAt)
            : f.kind === Kind.tick
              ? parseTickBody(f.body)
              : parseRetireBody(f.body);
        if (body === undefined) this.skipForeign();
        else this.p.stream.onEntry(f, body, e.sender);
        return;
      }
      case Kind.summary: {
        const body = parseSummaryBody(f.body);
        if (body === undefined) this.skipForeign();
        else this.p.rounds.onSummary(f, body, e.sender);
        return;
      }
      case Kind.snapshot: {
        const chunk = parseChunkBody(f.body);
        if (chunk === undefined) this.skipForeign();
        else this.p.rounds.onChunk(f, chunk.header, chunk.bytes, e.sender);
        return;
      }
      case Kind.close: {
        const body = parseCloseBody(f.body);
        if (body === undefined) this.skipForeign();
        else this.p.rounds.onClose(body);
        return;
      }
      case Kind.check: {
        const body = parseCheckBody(f.body);
        if (body === undefined) this.skipForeign();
        else this.p.timekeeper.onCheck(body);
        return;
      }
      case Kind.digest: {
        const body = parseDigestBody(f.body);
        if (body === undefined) this.skipForeign();
        else this.p.timekeeper.onDigest(f, body, e.sender);
        return;
      }
      case Kind.ack: {
        const body = parseAckBody(f.data, f.bodyAt);
        if (body === undefined) this.skipForeign();
        else if (this.p.acks.counts(f)) {
          this.p.replicaSet.noteAck(body);
          this.p.acks.onAck(body);
        }
        return;
      }
    }
  }
}
