/**
 * A snapshot in transit: the sync leader writes the image as lines (snapshot-text.ts),
 * compresses them in segments (snapshot-segments.ts) and cuts the segments' bytes into chunks
 * of at most the group's message size, in slices, sending each chunk as soon as it is written;
 * each target reads the chunks while they arrive (inflating, building the image and digesting
 * its pieces, in slices), and uses the result only once every chunk arrived (a partition can
 * cut a sender's stream short: then a membership change follows and starts a new round). Both
 * sides hold the event loop for at most one slice at a time (slices.ts). The machine sends the
 * chunks and applies the result.
 * @module
 */
import { rememberDigest, warmDigest } from './canonical.js';
import { imageDigest, type Image } from './image.js';
import {
  MalformedSnapshotError,
  SnapshotDigestError,
  SnapshotReader,
  pieceLineParts,
  snapshotLines,
  type StatePath,
} from './snapshot-text.js';
import { bytesDigest, recordTextCanonical, textDigestOf } from './piece-digest.js';
import { readRecord } from './record-text.js';
import { OPEN_BRACE } from './json-bytes.js';
import { SLICE_MIN_WORK, SliceClock } from './slices.js';
import { SEGMENT_TEXT_BYTES, SegmentReader, segmentOf } from './snapshot-segments.js';

/** A transfer this member takes part in (as target or bystander). */
export interface Transfer {
  /** `round key#decision seq`: chunks of any other transfer are ignored. */
  readonly tag: string;
  /** The sync leader's member key (the only sender whose chunks count). */
  readonly leader: string;
  /** Member keys that receive the snapshot. */
  readonly targets: ReadonlySet<string>;
  /** Chunks received so far, by position. */
  readonly parts: Uint8Array[];
  /** A target reads the lines of the chunks in order while they arrive (see `SnapshotReceiver`). */
  readonly receiver?: SnapshotReceiver<unknown>;
}

/** A snapshot's bytes on the wire (the segments of snapshot-segments.ts), in blocks. */
export interface SnapshotBytes {
  readonly blocks: readonly Uint8Array[];
  /** Their total length. */
  readonly length: number;
}

/** One chunk's bytes of a snapshot being written, and whether it is the last. */
export interface SnapshotChunk {
  readonly bytes: Uint8Array;
  readonly last: boolean;
}

/**
 * A chunk goes out at the end of a slice once it holds this many bytes, before it is full:
 * the targets read (and the network carries) the first parts while the leader writes the
 * rest. Compressed, a slice's text is 10-100 KB.
 */
const EARLY_CHUNK_BYTES = 16 * 1024;

/**
 * The chunks of a snapshot of `image` (its lines, each ended by `\n`, compressed in segments:
 * snapshot-segments.ts), of at most `size` bytes each, written in slices of `clock`
 * (slices.ts) and yielded as they fill: a full one at once, a partial one of at least
 * `EARLY_CHUNK_BYTES` at the end of a slice, so that the caller sends while the rest is
 * written. The last chunk says so (it may be empty). Stops (yields nothing more) when
 * `stop()` turned true between two slices.
 */
export async function* snapshotChunks(
  image: Image<unknown>,
  size: number,
  stop: () => boolean,
  clock = new SliceClock(),
): AsyncGenerator<SnapshotChunk> {
  let text: string[] = [];
  let textBytes = 0;
  const out: Uint8Array[] = [];
  let outBytes = 0;
  // the text is compressed a segment at a time; lines may span segments (and chunks)
  const seal = (): void => {
    if (text.length === 0) return;
    const b = Buffer.from(text.join(''), 'utf8');
    for (let at = 0; at < b.length; at += SEGMENT_TEXT_BYTES) {
      const seg = segmentOf(b.subarray(at, at + SEGMENT_TEXT_BYTES));
      out.push(seg);
      outBytes += seg.length;
    }
    text = [];
    textBytes = 0;
  };
  const take = (n: number): Uint8Array => {
    const chunk = new Uint8Array(n);
    for (let got = 0; got < n;) {
      const b = out[0]!;
      const k = Math.min(n - got, b.length);
      chunk.set(b.subarray(0, k), got);
      got += k;
      if (k === b.length) out.shift();
      else out[0] = b.subarray(k);
    }
    outBytes -= n;
    return chunk;
  };
  for (const line of snapshotLines(image)) {
    text.push(line, '\n');
    // UTF-16 units: at most the UTF-8 bytes, so a segment holds at least this much text
    textBytes += line.length + 1;
    if (textBytes >= SEGMENT_TEXT_BYTES) seal();
    while (outBytes > size) yield { bytes: take(size), last: false };
    if (clock.due(line.length + 1)) {
      seal();
      while (outBytes > size) yield { bytes: take(size), last: false };
      if (outBytes >= EARLY_CHUNK_BYTES) yield { bytes: take(outBytes), last: false };
      await clock.next();
      if (stop()) return;
    }
  }
  seal();
  while (outBytes > size) yield { bytes: take(size), last: false };
  yield { bytes: take(outBytes), last: true };
}

/**
 * The whole of a snapshot's bytes (`snapshotChunks` collected), built in slices of `clock`;
 * `undefined` when `stop()` turned true between two slices.
 */
export async function snapshotBytes(
  image: Image<unknown>,
  stop: () => boolean,
  clock = new SliceClock(),
): Promise<SnapshotBytes | undefined> {
  const blocks: Uint8Array[] = [];
  let length = 0;
  for await (const c of snapshotChunks(image, 1024 * 1024, stop, clock)) {
    blocks.push(c.bytes);
    length += c.bytes.length;
    if (c.last) return { blocks, length };
  }
  return undefined;
}

/** Whether all `n` chunks arrived, or how many did. */
export function chunksComplete(
  parts: readonly (Uint8Array | undefined)[],
  n: number,
): { complete: true } | { missing: true; got: number } {
  let complete = parts.length === n;
  for (let i = 0; complete && i < n; i++) complete = parts[i] !== undefined;
  if (!complete) return { missing: true, got: parts.filter((p) => p !== undefined).length };
  return { complete: true };
}

/**
 * Read the image back from the chunks of `snapshotChunks`' output, in slices of `clock`
 * (slices.ts); `undefined` when `stop()` turned true between two slices. Throws
 * `MalformedSnapshotError`.
 */
export async function readSnapshot<S>(
  parts: readonly Uint8Array[],
  stop: () => boolean,
  clock = new SliceClock(),
): Promise<Image<S> | undefined> {
  const receiver = new SnapshotReceiver<S>(stop, clock);
  for (const [i, p] of parts.entries()) receiver.push(i, p);
  return receiver.image();
}

/**
 * Reads a snapshot's lines while its chunks arrive, in slices (slices.ts): inflates its
 * segments, builds the image (the objects its machine names as records read straight into
 * `SortedRecord`s: record-text.ts) and fills the digest cache of every whole piece of it
 * (from the bytes it came in when its text is canonical, piece-digest.ts; else canonical.ts
 * `warmDigest`), so that a target has read and digested most of a large snapshot by the time
 * its last chunk comes (the transfer, the reading and the digest overlap); `verifiedImage`
 * gives the image only when its digest is the sender's. Chunks must be given in order; a gap
 * makes it give up (`broken`), and the caller reads the chunks again from the start, or
 * refuses them.
 */
export class SnapshotReceiver<S> {
  private readonly reader: SnapshotReader<S>;
  private readonly segments = new SegmentReader();
  private carry: Buffer[] = [];
  private readonly queue: Uint8Array[] = [];
  /** A `pump` is reading (`done` settles when it stops). */
  private pumping = false;
  private done: Promise<void> = Promise.resolve();
  private failure: { error: unknown } | undefined;
  private expected = 0;
  private text = 0;

  /**
   * @param stop - true once the transfer is abandoned: reading stops at the next slice
   * @param clock - the slices' clock (the caller's next work goes on from it: `sliceClock`)
   * @param records - where the state's objects are read as `SortedRecord`s
   * (`MachineDefinition.snapshotRecord`; default: nowhere)
   */
  constructor(
    private readonly stop: () => boolean,
    private readonly clock = new SliceClock(),
    records?: (path: StatePath) => boolean,
  ) {
    this.reader = new SnapshotReader<S>(records);
  }

  /** A chunk came out of order: the lines read are no use. */
  get broken(): boolean {
    return this.expected < 0;
  }

  /** Take chunk `i`; its segments are inflated and their lines read from now on, in slices. */
  push(i: number, chunk: Uint8Array): void {
    if (this.expected < 0) return;
    if (i !== this.expected) {
      this.expected = -1;
      this.queue.length = 0;
      return;
    }
    this.expected++;
    this.queue.push(chunk);
    if (!this.pumping) {
      this.pumping = true;
      this.done = this.pump();
    }
  }

  private async pump(): Promise<void> {
    try {
      while (this.queue.length > 0 && this.failure === undefined && this.expected >= 0) {
        this.segments.push(this.queue.shift()!);
        for (let text = this.segments.next(); text !== undefined; text = this.segments.next()) {
          this.lines(text);
          this.text += text.length;
          if (this.clock.due(text.length)) {
            await this.clock.next();
            if (this.stop()) return;
          }
        }
      }
    } catch (e) {
      this.failure = { error: e };
    } finally {
      this.pumping = false;
    }
  }

  /** Read the complete lines of one segment's text (a line may go on in the next). */
  private lines(p: Buffer): void {
    for (let at = 0; ;) {
      const nl = p.indexOf(10, at);
      if (nl < 0) {
        if (at < p.length) this.carry.push(p.subarray(at));
        return;
      }
      if (this.carry.length === 0) this.line(p.subarray(at, nl));
      else {
        this.line(Buffer.concat([...this.carry, p.subarray(at, nl)]));
        this.carry = [];
      }
      at = nl + 1;
    }
  }

  /**
   * Read one whole line (its bytes). A member written exactly as snapshot-text.ts writes it
   * has its value parsed from its own bytes, and when that value is a large piece whose text
   * is canonical JSON, those bytes' hash is its digest (piece-digest.ts says why that is
   * safe); any other piece is digested by serialising it (canonical.ts).
   */
  private line(b: Buffer): void {
    const parts = pieceLineParts(b);
    let piece: object | undefined;
    if (parts === undefined) piece = this.reader.line(b.toString('utf8'));
    else {
      const key = this.key(b, parts.keyStart, parts.keyEnd);
      const end = b.length - 1;
      piece = this.record(b, parts.depth, key, parts.valueStart, end);
      if (piece === undefined) {
        let value: unknown;
        try {
          value = JSON.parse(b.toString('utf8', parts.valueStart, end));
        } catch (e) {
          throw new MalformedSnapshotError('snapshot line is not JSON', { cause: e });
        }
        piece = this.reader.member(parts.depth, key, value);
        if (piece !== undefined) {
          const digest = textDigestOf(piece, b.subarray(parts.valueStart, end));
          if (digest !== undefined) rememberDigest(piece, digest);
        }
      }
    }
    // a whole piece is never added to: its digest (at most PIECE_MEMBERS members) now
    if (piece !== undefined) warmDigest(piece, Infinity);
  }

  /** A line's key, parsed from `b[start, end)`; throws `MalformedSnapshotError`. */
  private key(b: Buffer, start: number, end: number): string {
    let key: unknown;
    try {
      key = JSON.parse(b.toString('utf8', start, end));
    } catch (e) {
      throw new MalformedSnapshotError('snapshot line is not JSON', { cause: e });
    }
    if (typeof key !== 'string') throw new MalformedSnapshotError('malformed snapshot key');
    return key;
  }

  /**
   * The line's value `b[start, end)` placed as a `SortedRecord` (record-text.ts) when the
   * machine reads the object at its place so and it is an object; its digest is the hash of
   * its bytes as they came when they are its canonical JSON (piece-digest.ts). `undefined`
   * when the value is to be read as JSON.parse reads it.
   */
  private record(
    b: Buffer,
    depth: number,
    key: string,
    start: number,
    end: number,
  ): object | undefined {
    if (b[start] !== OPEN_BRACE || !this.reader.recordAt(depth, key)) return undefined;
    // hashed before `readRecord` changes the bytes
    const digest = bytesDigest(b.subarray(start, end));
    const read = readRecord(b, start, end);
    if (read === undefined) return undefined;
    this.reader.member(depth, key, read.record);
    if (read.inOrder && recordTextCanonical(read.record)) rememberDigest(read.record, digest);
    return read.record;
  }

  /**
   * After the last chunk: the image, once every line is read (`undefined` when stopped).
   * Throws what a malformed segment or line threw (`MalformedSnapshotError`), and for a
   * stream cut short.
   */
  async image(): Promise<Image<S> | undefined> {
    while (this.pumping) await this.done;
    if (this.stop()) return undefined;
    if (this.failure !== undefined) throw this.failure.error;
    this.segments.end();
    if (this.carry.length > 0) this.line(Buffer.concat(this.carry));
    this.carry = [];
    return this.reader.image();
  }

  /**
   * After the last chunk: the image, once every line is read and its digest computed in
   * slices, when that digest is `expected` (the one the sender announced); `undefined` when
   * stopped. Throws `SnapshotDigestError` for another digest (the image must not be used),
   * and what `image` throws.
   */
  async verifiedImage(expected: string): Promise<Image<S> | undefined> {
    const image = await this.image();
    if (image === undefined) return undefined;
    const clock = this.clock;
    // a small snapshot (one slice's work) is digested at once, whatever the clock says
    const small = this.text < SLICE_MIN_WORK;
    while (!warmDigest(image.state, small ? Infinity : clock.deadline, clock.now)) {
      await clock.next();
      if (this.stop()) return undefined;
    }
    const digest = imageDigest(image);
    if (digest !== expected) throw new SnapshotDigestError(digest, expected);
    return image;
  }

  /** Bytes of text (inflated) read so far. */
  get textBytes(): number {
    return this.text;
  }

  /** The slice clock the reading left off with (the caller's next work goes on from it). */
  get sliceClock(): SliceClock {
    return this.clock;
  }
}
