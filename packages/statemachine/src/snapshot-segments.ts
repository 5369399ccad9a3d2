/**
 * A snapshot's text compressed for the wire (wire version 6): a stream of segments, each a
 * u32 (big-endian) length and that many bytes of raw deflate (RFC 1951) of at most
 * `SEGMENT_TEXT_BYTES` of the text. Segments are independent (each inflates on its own), so
 * the sync leader compresses the text as it writes it, a segment at a time, and a target
 * inflates while the chunks arrive; chunk ends fall anywhere in the stream.
 *
 * Why: a 100,000-key store is 15 MB of text; on the real cluster those bytes went through
 * corosync three times over (every member's daemon handles every message) at 50-100 MB/s
 * while the daemons took CPU from the replicas on a 2-core machine. Deflate at level 1 makes
 * them 0.8 MB (the bench's values) to 6 MB (random base64 values) for about 3 ms of CPU per
 * MB on the leader and 3-8 ms per MB on the target, in the slices that already write and
 * read the text. Synchronous zlib on purpose: work on the thread pool would make the order
 * of events depend on the machine's load (the seeded tests replay exactly).
 * @module
 */
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { MalformedSnapshotError } from './snapshot-text.js';

/**
 * Text bytes compressed into one segment, at most: deflate's window (32 KiB), so independent
 * segments lose little, and one segment's inflating, parsing and digest fit well in a slice.
 */
export const SEGMENT_TEXT_BYTES = 32 * 1024;

/** A segment's compressed length, at most (deflate's worst case stays far below it). */
const SEGMENT_MAX = 2 * SEGMENT_TEXT_BYTES;

/** The segment (length + raw deflate) of at most `SEGMENT_TEXT_BYTES` of `text`. */
export function segmentOf(text: Uint8Array): Buffer {
  if (text.length > SEGMENT_TEXT_BYTES) throw new RangeError('segment text too long');
  const z = deflateRawSync(text, { level: 1 });
  const out = Buffer.allocUnsafe(4 + z.length);
  out.writeUInt32BE(z.length, 0);
  z.copy(out, 4);
  return out;
}

/**
 * Reads segments back from the stream's bytes, cut anywhere: `push` the bytes as they come,
 * `next` returns the text of the next complete segment (one at a time, so that the caller
 * inflates a slice's worth at once); throws `MalformedSnapshotError` for a bad length or bytes
 * that do not inflate (or inflate past `SEGMENT_TEXT_BYTES`).
 */
export class SegmentReader {
  private readonly pending: Buffer[] = [];
  private pendingBytes = 0;

  /** Take the next bytes of the stream. */
  push(bytes: Uint8Array): void {
    if (bytes.byteLength === 0) return;
    this.pending.push(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    this.pendingBytes += bytes.byteLength;
  }

  /** The text of the next segment, once its bytes are all in; else `undefined`. */
  next(): Buffer | undefined {
    if (this.pendingBytes < 4) return undefined;
    const len = this.peek(4).readUInt32BE(0);
    if (len === 0 || len > SEGMENT_MAX)
      throw new MalformedSnapshotError(`snapshot segment of ${len} bytes`);
    if (this.pendingBytes < 4 + len) return undefined;
    return inflate(this.take(4 + len).subarray(4));
  }

  /** The stream ended: throws `MalformedSnapshotError` when a segment was cut short (or left unread). */
  end(): void {
    if (this.pendingBytes > 0) throw new MalformedSnapshotError('snapshot stream truncated');
  }

  private peek(n: number): Buffer {
    const first = this.pending[0]!;
    if (first.length >= n) return first;
    return Buffer.concat(this.pending).subarray(0, n);
  }

  private take(n: number): Buffer {
    let out: Buffer;
    const first = this.pending[0]!;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.pending.shift();
      else this.pending[0] = first.subarray(n);
    } else {
      const all = Buffer.concat(this.pending);
      out = all.subarray(0, n);
      this.pending.length = 0;
      if (all.length > n) this.pending.push(all.subarray(n));
    }
    this.pendingBytes -= n;
    return out;
  }
}

function inflate(seg: Buffer): Buffer {
  try {
    // one output buffer holds a whole segment's text: no second buffer, no concatenation
    return inflateRawSync(seg, {
      maxOutputLength: SEGMENT_TEXT_BYTES,
      chunkSize: SEGMENT_TEXT_BYTES + 1024,
    });
  } catch (e) {
    throw new MalformedSnapshotError('snapshot segment does not inflate', { cause: e });
  }
}
