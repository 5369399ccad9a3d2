/**
 * A snapshot in transit: the sync leader cuts the serialised image into chunks of at most the
 * group's message size; each target collects them and assembles the image only when every
 * chunk arrived (a partition can cut a sender's stream short: then a membership change follows
 * and starts a new round). Pure; the machine sends the chunks and applies the result.
 * @module
 */
import { Kind, packChunk, type SnapshotChunkHeader, type KindValue } from './wire.js';

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
