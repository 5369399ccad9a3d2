/**
 * A snapshot in transit: the sync leader writes the image as lines (snapshot-text.ts) in
 * slices, and cuts their bytes into chunks of at most the group's message size; each target
 * collects them and, only once every chunk arrived (a partition can cut a sender's stream
 * short: then a membership change follows and starts a new round), reads the lines back
 * across the chunks in slices. Both sides hold the event loop for at most one slice at a time
 * (slices.ts). The machine sends the chunks and applies the result.
 * @module
 */
import { Kind, packChunk, type SnapshotChunkHeader, type KindValue } from './wire.js';
import type { Image } from './image.js';
import { SnapshotReader, snapshotLines } from './snapshot-text.js';
import { SliceClock } from './slices.js';

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

/** Bytes of lines encoded at once while writing a snapshot. */
const ENCODE_BYTES = 64 * 1024;

/** A snapshot's bytes, as the blocks they were encoded in. */
export interface SnapshotBytes {
  readonly blocks: readonly Uint8Array[];
  /** Their total length. */
  readonly length: number;
}

/**
 * The bytes of a snapshot of `image` (its lines, each ended by `\n`), built in slices of
 * `clock` (slices.ts); `undefined` when `stop()` turned true between two slices.
 */
export async function snapshotBytes(
  image: Image<unknown>,
  stop: () => boolean,
  clock = new SliceClock(),
): Promise<SnapshotBytes | undefined> {
  const blocks: Uint8Array[] = [];
  let pending: string[] = [];
  let size = 0;
  let length = 0;
  const flush = (): void => {
    const b = Buffer.from(pending.join(''), 'utf8');
    blocks.push(b);
    length += b.length;
    pending = [];
    size = 0;
  };
  for (const line of snapshotLines(image)) {
    pending.push(line, '\n');
    size += line.length + 1;
    if (size >= ENCODE_BYTES) flush();
    if (clock.due(line.length + 1)) {
      await clock.next();
      if (stop()) return undefined;
    }
  }
  if (size > 0) flush();
  return { blocks, length };
}

/** How many chunks of at most `size` bytes carry `length` bytes (at least one). */
export function chunkCount(length: number, size: number): number {
  return Math.max(1, Math.ceil(length / size));
}

/**
 * The frames of a snapshot, one chunk of at most `size` bytes each, built one at a time as
 * they are taken (a 13 MB snapshot is never copied whole at once).
 * @param frame - builds one frame of kind `snapshot` around a body
 */
export function* snapshotFrames(
  bytes: SnapshotBytes,
  size: number,
  tag: string,
  digest: string,
  frame: (kind: KindValue, body: Uint8Array) => Uint8Array,
): Generator<Uint8Array> {
  const n = chunkCount(bytes.length, size);
  let block = 0;
  let at = 0;
  for (let i = 0; i < n; i++) {
    const want = Math.min(size, bytes.length - i * size);
    const chunk = new Uint8Array(want);
    for (let got = 0; got < want;) {
      const b = bytes.blocks[block]!;
      const take = Math.min(want - got, b.length - at);
      chunk.set(b.subarray(at, at + take), got);
      got += take;
      at += take;
      if (at === b.length) {
        block++;
        at = 0;
      }
    }
    const header: SnapshotChunkHeader = { tag, i, n, digest };
    yield frame(Kind.snapshot, packChunk(header, chunk));
  }
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

/** The lines of the bytes `parts` hold end to end (a line may span parts), without newlines. */
export function* linesOf(parts: readonly Uint8Array[]): Generator<string> {
  let carry: Buffer[] = [];
  for (const part of parts) {
    const p = Buffer.from(part.buffer, part.byteOffset, part.byteLength);
    let at = 0;
    for (;;) {
      const nl = p.indexOf(10, at);
      if (nl < 0) {
        if (at < p.length) carry.push(p.subarray(at));
        break;
      }
      if (carry.length === 0) yield p.toString('utf8', at, nl);
      else {
        yield Buffer.concat([...carry, p.subarray(at, nl)]).toString('utf8');
        carry = [];
      }
      at = nl + 1;
    }
  }
  if (carry.length > 0) yield Buffer.concat(carry).toString('utf8');
}

/**
 * Read the image back from the chunks of `snapshotBytes`' output, in slices of `clock`
 * (slices.ts); `undefined` when `stop()` turned true between two slices. Throws
 * `MalformedSnapshotError`.
 */
export async function readSnapshot<S>(
  parts: readonly Uint8Array[],
  stop: () => boolean,
  clock = new SliceClock(),
): Promise<Image<S> | undefined> {
  const reader = new SnapshotReader<S>();
  for (const line of linesOf(parts)) {
    reader.line(line);
    if (clock.due(line.length + 1)) {
      await clock.next();
      if (stop()) return undefined;
    }
  }
  return reader.image();
}

/**
 * Reads a snapshot's lines while its chunks arrive, in slices (slices.ts), so that a target
 * has read most of a large snapshot by the time its last chunk comes (the transfer and the
 * reading overlap). Chunks must be given in order; a gap makes it give up (`broken`), and the
 * caller reads the chunks again from the start, or refuses them.
 */
export class SnapshotReceiver<S> {
  private readonly reader = new SnapshotReader<S>();
  private carry: Buffer[] = [];
  private readonly queue: Uint8Array[] = [];
  /** A `pump` is reading (`done` settles when it stops). */
  private pumping = false;
  private done: Promise<void> = Promise.resolve();
  private failure: { error: unknown } | undefined;
  private expected = 0;

  /**
   * @param stop - true once the transfer is abandoned: reading stops at the next slice
   * @param clock - the reading's slices (the replica's slice time)
   */
  constructor(
    private readonly stop: () => boolean,
    private readonly clock = new SliceClock(),
  ) {}

  /** A chunk came out of order: the lines read are no use. */
  get broken(): boolean {
    return this.expected < 0;
  }

  /** Take chunk `i`; its complete lines are read from now on, a slice at a time. */
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
        const part = this.queue.shift()!;
        const p = Buffer.from(part.buffer, part.byteOffset, part.byteLength);
        for (let at = 0; ;) {
          const nl = p.indexOf(10, at);
          if (nl < 0) {
            if (at < p.length) this.carry.push(p.subarray(at));
            break;
          }
          if (this.carry.length === 0) this.reader.line(p.toString('utf8', at, nl));
          else {
            this.reader.line(Buffer.concat([...this.carry, p.subarray(at, nl)]).toString('utf8'));
            this.carry = [];
          }
          const work = nl + 1 - at;
          at = nl + 1;
          if (this.clock.due(work)) {
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

  /**
   * After the last chunk: the image, once every line is read (`undefined` when stopped).
   * Throws what a malformed line threw (`MalformedSnapshotError`).
   */
  async image(): Promise<Image<S> | undefined> {
    while (this.pumping) await this.done;
    if (this.stop()) return undefined;
    if (this.failure !== undefined) throw this.failure.error;
    if (this.carry.length > 0) this.reader.line(Buffer.concat(this.carry).toString('utf8'));
    this.carry = [];
    return this.reader.image();
  }

  /** The slice clock the reading left off with (the caller's next work goes on from it). */
  get sliceClock(): SliceClock {
    return this.clock;
  }
}
