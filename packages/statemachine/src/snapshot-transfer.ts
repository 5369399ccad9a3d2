/**
 * A snapshot in transit: the sync leader writes the image as lines (snapshot-text.ts) in
 * slices, and cuts their bytes into chunks of at most the group's message size; each target
 * collects them, assembles the bytes only when every chunk arrived (a partition can cut a
 * sender's stream short: then a membership change follows and starts a new round), and reads
 * the lines back in slices. The machine sends the chunks and applies the result.
 * @module
 */
import { Kind, packChunk, type SnapshotChunkHeader, type KindValue } from './wire.js';
import type { Image } from './image.js';
import { SnapshotReader, snapshotLines } from './snapshot-text.js';

/** The longest a snapshot's writing or reading holds the event loop in one turn (ms). */
export const SLICE_MS = 8;
/** Bytes of lines encoded at once while writing a snapshot. */
const ENCODE_BYTES = 64 * 1024;

/** The next turn of the event loop (after pending I/O). */
export function nextTurn(): Promise<void> {
  return new Promise((r) => setImmediate(r));
}

/**
 * The bytes of a snapshot of `image` (its lines, each ended by `\n`), built in slices of at
 * most `SLICE_MS`; `undefined` when `stop()` turned true at a slice's end.
 */
export async function snapshotBytes(
  image: Image<unknown>,
  stop: () => boolean,
): Promise<Uint8Array | undefined> {
  const blocks: Buffer[] = [];
  let pending: string[] = [];
  let size = 0;
  let total = 0;
  const flush = (): void => {
    const b = Buffer.from(pending.join(''), 'utf8');
    blocks.push(b);
    total += b.length;
    pending = [];
    size = 0;
  };
  let slice = performance.now();
  for (const line of snapshotLines(image)) {
    pending.push(line, '\n');
    size += line.length + 1;
    if (size >= ENCODE_BYTES) flush();
    if (performance.now() - slice > SLICE_MS) {
      await nextTurn();
      if (stop()) return undefined;
      slice = performance.now();
    }
  }
  if (size > 0) flush();
  return blocks.length === 1 ? blocks[0]! : Buffer.concat(blocks, total);
}

/**
 * Read the image back from `snapshotBytes`' output, in slices of at most `SLICE_MS`;
 * `undefined` when `stop()` turned true at a slice's end. Throws `MalformedSnapshotError`.
 */
export async function readSnapshot<S>(
  bytes: Uint8Array,
  stop: () => boolean,
): Promise<Image<S> | undefined> {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const reader = new SnapshotReader<S>();
  let slice = performance.now();
  for (let at = 0; at < buf.length; ) {
    let end = buf.indexOf(10, at);
    if (end < 0) end = buf.length;
    reader.line(buf.toString('utf8', at, end));
    at = end + 1;
    if (performance.now() - slice > SLICE_MS) {
      await nextTurn();
      if (stop()) return undefined;
      slice = performance.now();
    }
  }
  return reader.image();
}

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
}

/**
 * The frames of a snapshot: `bytes` in chunks of `size`, each with its header.
 * @param frame - builds one frame of kind `snapshot` around a body
 */
export function snapshotFrames(
  bytes: Uint8Array,
  size: number,
  tag: string,
  digest: string,
  frame: (kind: KindValue, body: Uint8Array) => Uint8Array,
): Uint8Array[] {
  const n = Math.max(1, Math.ceil(bytes.length / size));
  const frames: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    const header: SnapshotChunkHeader = { tag, i, n, digest };
    frames.push(frame(Kind.snapshot, packChunk(header, bytes.subarray(i * size, (i + 1) * size))));
  }
  return frames;
}

/** All `n` chunks in one buffer, or `undefined` (with how many arrived) when some are missing. */
export function assembleChunks(
  parts: readonly (Uint8Array | undefined)[],
  n: number,
): { bytes: Uint8Array } | { missing: true; got: number } {
  let complete = parts.length === n;
  for (let i = 0; complete && i < n; i++) complete = parts[i] !== undefined;
  if (!complete) return { missing: true, got: parts.filter((p) => p !== undefined).length };
  const total = parts.reduce((a, p) => a + p!.length, 0);
  const all = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    all.set(p!, off);
    off += p!.length;
  }
  return { bytes: all };
}
