/**
 * A piece's text kept with its digest: when canonical.ts digests an object on its own, the
 * text it hashes is the object's canonical JSON with every large object below it replaced by
 * its digest. When that text is at the same time the object's `JSON.stringify` text (object
 * members enumerate in sorted order all the way down, nothing below it is digested on its
 * own, nothing that JSON writes otherwise), it is kept, so that a sync leader writes the object
 * into a snapshot (snapshot-text.ts) from it instead of serialising it again: the leaves of a
 * 100,000-key store are 15 MB of text, which the leader serialised for every new replica.
 *
 * Memory: a kept text is a flat string (hashing flattened it) of about the size of the object's
 * JSON, held as long as its object (the cache is weak, like the digests'). A store of 100,000
 * keys with 64-byte values keeps about 15 MB of text on a replica that digested it (a
 * replica's own writes, the digest warmer); a replica that received the store in a sync keeps
 * none until its leaves change (their digests come from the received bytes, piece-digest.ts).
 * @module
 */
import { PIECE_MEMBERS } from './json-pieces.js';

/** A piece's text, kept with its digest (see `pieceTextOf`). */
export interface PieceText {
  /** The object's canonical JSON, which is also the text `JSON.stringify` writes for it. */
  readonly text: string;
  /**
   * Its members as JSON writes them, nested ones included: an array's items, an object's
   * members (`undefined` ones left out), and theirs.
   */
  readonly members: number;
}

/**
 * What a text being built (canonical.ts) went through: whether it is still the value's
 * `JSON.stringify` text, and its members so far (as `PieceText.members` counts them).
 */
export interface TextRun {
  verbatim: boolean;
  members: number;
}

/** Kept texts, by identity (see `pieceTextOf`). */
const texts = new WeakMap<object, PieceText>();

/** A piece's text is kept only up to this many characters. */
export const KEEP_TEXT = 64 * 1024;

/**
 * The kept text of an object digested on its own, when that text is both its canonical JSON
 * and its `JSON.stringify` text, and it has at most `PIECE_MEMBERS` members (json-pieces.ts)
 * and `KEEP_TEXT` characters. Valid, like the digest, because states are never modified.
 */
export function pieceTextOf(value: object): PieceText | undefined {
  return texts.get(value);
}

/** Keep `text`, the digested text of `value`, when `run` says it qualifies (`pieceTextOf`). */
export function keepText(value: object, text: string, run: TextRun): void {
  if (run.verbatim && run.members <= PIECE_MEMBERS && text.length <= KEEP_TEXT)
    texts.set(value, { text, members: run.members });
}

/**
 * Whether the object `SortedRecord.toJSON` builds of these keys (sorted) enumerates them in
 * this order: an object lists its array-index keys first, in numeric order.
 */
export function sortedIsJsonOrder(keys: readonly string[]): boolean {
  let last = -1;
  let others = false;
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!;
    const c = k.charCodeAt(0);
    if (c >= 0x30 && c <= 0x39 && ARRAY_INDEX.test(k) && Number(k) < 2 ** 32 - 1) {
      const n = Number(k);
      if (others || n <= last) return false;
      last = n;
    } else others = true;
  }
  return true;
}

const ARRAY_INDEX = /^(?:0|[1-9][0-9]{0,9})$/;
