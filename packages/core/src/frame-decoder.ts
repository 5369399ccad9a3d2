/**
 * The receiving half of the frame format (see frame.ts): turns each CPG message into the
 * logical messages it carries, reassembles chunked payloads per sender, and delivers
 * anything that is not a valid frame as one raw message.
 * @module
 */
import {
  CHUNK_HEADER_SIZE,
  ENTRY_OVERHEAD,
  HEADER_SIZE,
  KIND_BATCH,
  KIND_CHUNK,
  batchCount,
  frameKind,
  parseChunk,
  readU32,
} from './frame.js';
import { Slab } from './slab.js';
import type { MemberId } from './types.js';

interface Partial {
  readonly id: number;
  readonly total: number;
  readonly buf: Uint8Array;
  got: number;
}

/** Copies of small messages come from shared, never-reused slabs (no allocation each). */
const slab = new Slab();

/** Copy `data[start, end)` into memory the receiver owns (never the caller's buffer). */
function copyOf(data: Uint8Array, start: number, end: number): Uint8Array {
  return slab.copy(data, start, end);
}

/** Counters of what the decoder saw, for diagnostics. */
export interface DecoderStats {
  /** CPG messages that were not cpgkit frames (delivered raw). */
  raw: number;
  /** Chunk pieces dropped (out of sequence, or their sender left mid-payload). */
  droppedPieces: number;
}

/** Decodes CPG messages for one member. */
export class FrameDecoder {
  readonly #deliver: (sender: MemberId, data: Uint8Array) => void;
  readonly #limit: number;
  readonly #partials = new Map<string, Partial>();
  /** What the decoder saw. */
  readonly stats: DecoderStats = { raw: 0, droppedPieces: 0 };

  /**
   * @param deliver - called once per logical message, in order; `data` is owned by the callee
   * @param limit - the largest reassembled payload accepted (bigger chunk frames are raw)
   */
  constructor(deliver: (sender: MemberId, data: Uint8Array) => void, limit: number) {
    this.#deliver = deliver;
    this.#limit = limit;
  }

  /** Decode one CPG message. `data` may be a view valid only during this call. */
  decode(sender: MemberId, data: Uint8Array): void {
    const kind = frameKind(data);
    if (kind === KIND_BATCH) {
      if (this.#batch(sender, data, false)) return;
    } else if (kind === KIND_CHUNK) {
      if (this.#chunk(sender, data)) return;
    }
    this.stats.raw++;
    this.#deliver(sender, copyOf(data, 0, data.length));
  }

  /** Forget a partial payload of a member that left. */
  dropSender(member: MemberId): void {
    if (this.#partials.size === 0) return;
    const key = `${member.nodeid}:${member.pid}`;
    if (this.#partials.delete(key)) this.stats.droppedPieces++;
  }

  /** Forget every partial payload (we left the group). */
  clear(): void {
    this.#partials.clear();
  }

  /** Deliver the entries of a batch frame; false when it is not a valid one. */
  #batch(sender: MemberId, data: Uint8Array, owned: boolean): boolean {
    const count = batchCount(data);
    if (count < 0) return false;
    let pos = HEADER_SIZE;
    const deliver = this.#deliver;
    for (let i = 0; i < count; i++) {
      const len = readU32(data, pos);
      const start = pos + ENTRY_OVERHEAD;
      pos = start + len;
      deliver(sender, owned ? data.subarray(start, pos) : copyOf(data, start, pos));
    }
    return true;
  }

  /** Take one chunk piece; false when it is not a valid chunk frame. */
  #chunk(sender: MemberId, data: Uint8Array): boolean {
    const h = parseChunk(data);
    if (!h || h.total > this.#limit) return false;
    const key = `${sender.nodeid}:${sender.pid}`;
    let p = this.#partials.get(key);
    if (h.offset === 0) {
      if (p) this.stats.droppedPieces++;
      p = { id: h.id, total: h.total, buf: new Uint8Array(h.total), got: 0 };
      this.#partials.set(key, p);
    } else if (!p || p.id !== h.id || p.total !== h.total || p.got !== h.offset) {
      // A piece without its beginning (we joined mid-payload, or the sender restarted it).
      if (p) this.#partials.delete(key);
      this.stats.droppedPieces++;
      return true;
    }
    p.buf.set(data.subarray(CHUNK_HEADER_SIZE), h.offset);
    p.got += data.length - CHUNK_HEADER_SIZE;
    if (p.got === p.total) {
      this.#partials.delete(key);
      const payload = p.buf;
      if (frameKind(payload) !== KIND_BATCH || !this.#batch(sender, payload, true)) {
        this.#deliver(sender, payload);
      }
    }
    return true;
  }
}
