/**
 * The wire format of @cpgkit/statemachine: a compact binary header and a body.
 *
 * ```
 * offset size
 *   0     2   magic 0xC7 0x4B ("cpgkit")
 *   2     1   format version (see `WIRE_VERSION`)
 *   3     1   kind (see `Kind`)
 *   4    16   sender incarnation (uuid bytes)
 *  20    16   command id (uuid v7 bytes; zero when the kind has none)
 *  36     4   epoch (u32, big-endian): the sender's state epoch
 *  40     1   n = length of the machine name in bytes
 *  41     n   machine name (UTF-8)
 *  41+n   ..  body: UTF-8 JSON, or raw bytes for snapshot chunks
 * ```
 *
 * Anything that does not parse (another program in the group, a newer format version, a
 * machine with another name) decodes to `undefined`: it is counted and skipped, never applied.
 * So is a message whose body does not parse for its kind (`parseSummaryBody` and the others
 * check every field).
 *
 * Past 500 lines on purpose: the header and every kind's body, each with its encoder and its
 * checking parser, are one format; kept together, a change to a body and to its check is
 * made in one place.
 * @module
 */
import type { Summary } from './sync.js';

/** The first two bytes of every message. */
export const MAGIC0 = 0xc7;
/** The second magic byte. */
export const MAGIC1 = 0x4b;
/**
 * The format version this code speaks. A frame of any other version is counted as foreign and
 * skipped: members of different versions do not talk to each other.
 *
 * - 1: the first cut, kinds 1-7 (command ... close).
 * - 2: `retire` and `ack` (`dispatch` waits for acks of a majority of `Q`, which a member of
 *   version 1 never sends), the replica set `Q` in summaries and in the digest, every body
 *   field checked on receive, `ReplicatedMap` compares on values whatever the key order.
 * - 3: summaries carry `gone` (departed replicas that proved they hold `Q`) and the sender's
 *   wall time; a command body nested deeper than `MAX_BODY_DEPTH` is skipped by everyone.
 * - 4: an `ack` of a persisting replica carries `d`, the index its disk holds (fdatasync'd),
 *   and `f: 1` when it runs `durability: 'fsync'`: then every member's `dispatch` waits for a
 *   majority of `Q` to hold the command on disk.
 * - 5: a snapshot's bytes are lines (snapshot-text.ts), written and read back in slices,
 *   instead of one JSON text of the whole image.
 * - 6: a snapshot's bytes are its lines compressed (raw deflate) in independent segments
 *   (snapshot-segments.ts), and its chunks are sent while the leader writes them: a chunk
 *   header says `last` instead of the count `n`. On the real cluster the 15 MB of a
 *   100,000-key store went through corosync as 0.8 MB, and the first chunk left once the
 *   first slice was written instead of once the whole text was.
 * - 7: summaries carry `settled`: a strict majority of the sender's `Q` proved its state's
 *   epoch. Of two states of one epoch the proven one leads (sync.ts), so a round that a killed
 *   replica forgot never overrides the one it made after its restart.
 * - 8: summaries carry `provenReplicas` and `provenGone`: `Q` (and `gone`) of the newest proven
 *   epoch of the sender's state. While an epoch is unproven, a round is quorate only with a
 *   strict majority of that set as well as of `Q` (sync.ts, "Changing `Q`"), so that the vote of
 *   a replica that forgot a round which moved `Q` never counts twice. A member of version 7
 *   would count by `Q` alone: the versions do not talk to each other (a rolling upgrade looks
 *   like a partition between them, and each side's rounds need their own majority of `Q`).
 */
export const WIRE_VERSION = 8;

/**
 * The deepest nesting of arrays and objects a command body may have. Deeper bodies are
 * refused by `dispatch` and skipped (counted as foreign) by every member, before `JSON.parse`
 * sees them: recursion over a value nested thousands deep (a trace line's `JSON.stringify`,
 * immer's drafts, the digest) overflows the stack at a depth that depends on where it runs,
 * so the same command could apply on one member and throw on another.
 */
export const MAX_BODY_DEPTH = 64;
/** The fixed part of the header, before the name. */
export const HEADER_FIXED = 41;

/** Message kinds. */
export const Kind = {
  /** A command for `apply` (body: JSON `{ t: time, c: command }`). */
  command: 1,
  /** A sync summary: where the sender's state stands (body: JSON `SummaryBody`). */
  summary: 2,
  /** One chunk of a snapshot sent by the sync leader (body: JSON chunk header + raw bytes). */
  snapshot: 3,
  /** A replicated timer tick proposed by the timekeeper (body: JSON `{ t: time }`). */
  tick: 4,
  /** Everyone: compute your digest at this point of the stream and send it (body: `{ id }`). */
  check: 5,
  /** A digest computed at a check (body: JSON `{ id, index, digest }`). */
  digest: 6,
  /** Close a sync round that silent members hold up (body: JSON `{ round, participants }`). */
  close: 7,
  /**
   * A member that closes gracefully leaves the replica set `Q` (body: JSON `{ r: replicaId }`).
   * Applied in the agreed order like a command, only in a quorate component.
   */
  retire: 8,
  /**
   * A replica of `Q` applied everything up to an index (body: JSON `{ i, r: replicaId }`).
   * Senders resolve a `dispatch` once a majority of `Q` applied its command.
   */
  ack: 9,
} as const;

/** A message kind number. */
export type KindValue = (typeof Kind)[keyof typeof Kind];

/** The highest kind number (kinds are 1..KIND_MAX, see `Kind`). */
const KIND_MAX: number = Math.max(...Object.values(Kind));
const ZERO_ID = new Uint8Array(16);
const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** A decoded header and its body. */
export interface Frame {
  readonly kind: KindValue;
  /** The sender's incarnation uuid. */
  readonly incarnation: string;
  /** The command id, or `undefined` when all zero. */
  readonly commandId: string | undefined;
  readonly epoch: number;
  readonly name: string;
  /** The whole message. */
  readonly data: Uint8Array;
  /** Where the body starts in `data` (it runs to the end). */
  readonly bodyAt: number;
  /** The body bytes (a view into the message, made when asked for). */
  readonly body: Uint8Array;
}

/**
 * `decodeFrame`'s frames. The body's view is made only when asked for: a command's and an
 * ack's body are parsed from the message at `bodyAt` (a view is an object of ~100 bytes, on
 * every replica for every message).
 */
class DecodedFrame implements Frame {
  constructor(
    readonly kind: KindValue,
    readonly incarnation: string,
    readonly commandId: string | undefined,
    readonly epoch: number,
    readonly name: string,
    readonly data: Uint8Array,
    readonly bodyAt: number,
  ) {}

  get body(): Uint8Array {
    return this.data.subarray(this.bodyAt);
  }
}

/** What `encodeFrame` needs. */
export interface FrameInput {
  readonly kind: KindValue;
  readonly incarnation: string;
  readonly commandId?: string | undefined;
  readonly epoch: number;
  /** The machine name, already UTF-8 encoded (at most 255 bytes). */
  readonly nameBytes: Uint8Array;
  readonly body: Uint8Array;
}

/** Encode a machine name; throws a `RangeError` when it is empty or longer than 255 bytes. */
export function encodeName(name: string): Uint8Array {
  const bytes = encoder.encode(name);
  if (bytes.length === 0 || bytes.length > 255) {
    throw new RangeError(`machine name must be 1..255 bytes of UTF-8, got ${bytes.length}`);
  }
  return bytes;
}

/** Build one message. */
export function encodeFrame(input: FrameInput): Uint8Array {
  const n = input.nameBytes.length;
  const out = pooled(HEADER_FIXED + n + input.body.length);
  writeHeader(input, out);
  out.set(input.body, 41 + n);
  return out;
}

/**
 * Build one message whose body is the JSON of `value` (bigints become decimal strings), as
 * `encodeFrame` of `jsonBody(value)` gives it, byte for byte: the text is written straight
 * into the message (one buffer and one copy per command fewer).
 */
export function encodeJsonFrame(input: Omit<FrameInput, 'body'>, value: unknown): Uint8Array {
  const text = jsonText(value);
  const at = HEADER_FIXED + input.nameBytes.length;
  const b = Buffer.allocUnsafe(at + Buffer.byteLength(text, 'utf8'));
  b.write(text, at, 'utf8');
  const out = new Uint8Array(b.buffer, b.byteOffset, b.length);
  writeHeader(input, out);
  return out;
}

/** Where the body of a message built by `encodeFrame` or `encodeJsonFrame` starts. */
export function bodyStart(frame: Uint8Array): number {
  return HEADER_FIXED + frame[40]!;
}

/** The header and the name of a message (`out` has room for them). */
function writeHeader(input: Omit<FrameInput, 'body'>, out: Uint8Array): void {
  const n = input.nameBytes.length;
  out[0] = MAGIC0;
  out[1] = MAGIC1;
  out[2] = WIRE_VERSION;
  out[3] = input.kind;
  incarnationInto(input.incarnation, out, 4);
  if (input.commandId === undefined) out.set(ZERO_ID, 20);
  else commandIdInto(input.commandId, out, 20);
  const epoch = input.epoch >>> 0;
  out[36] = epoch >>> 24;
  out[37] = (epoch >>> 16) & 0xff;
  out[38] = (epoch >>> 8) & 0xff;
  out[39] = epoch & 0xff;
  out[40] = n;
  out.set(input.nameBytes, 41);
}

/**
 * `n` bytes from Node's buffer pool, not zeroed (the caller writes every byte), as a plain
 * `Uint8Array`. A `new Uint8Array` past 64 bytes gets a backing store of its own outside the
 * heap: about 1 µs to allocate and more to collect, twice per command (body and frame).
 */
function pooled(n: number): Uint8Array {
  const b = Buffer.allocUnsafe(n);
  return new Uint8Array(b.buffer, b.byteOffset, n);
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
/** The value of a hex digit's char code (either case), or -1. */
function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const l = c | 0x20;
  return l >= 0x61 && l <= 0x66 ? l - 0x57 : -1;
}

/**
 * Write the 16 bytes of a uuid's text (8-4-4-4-12 hex digits, either case) at `out[at]`;
 * throws a `TypeError` on malformed text. One pass over the char codes: no regular
 * expression, no substrings (uuid's `parse` checks by regular expression on every frame).
 */
function uuidInto(text: string, out: Uint8Array, at: number): void {
  let ok = text.length === 36;
  let j = at;
  for (let i = 0; ok && i < 36; i += 2) {
    if (i === 8 || i === 13 || i === 18 || i === 23) {
      if (text.charCodeAt(i) !== 0x2d) ok = false;
      i++;
    }
    const hi = hexValue(text.charCodeAt(i));
    const lo = hexValue(text.charCodeAt(i + 1));
    if (hi < 0 || lo < 0) ok = false;
    else out[j++] = (hi << 4) | lo;
  }
  if (!ok) throw new TypeError(`not a uuid: ${text}`);
}

/** Incarnations written lately, and their bytes: a replica writes its own on every frame. */
const incarnationTexts: string[] = [];
const incarnationBytes: Uint8Array[] = [];

/** `uuidInto` of an incarnation, from the bytes of an earlier frame when it was written lately. */
function incarnationInto(text: string, out: Uint8Array, at: number): void {
  for (let k = 0; k < incarnationTexts.length; k++) {
    if (incarnationTexts[k] === text) {
      out.set(incarnationBytes[k]!, at);
      return;
    }
  }
  uuidInto(text, out, at);
  if (incarnationTexts.length >= MEMO_ENTRIES) {
    incarnationTexts.shift();
    incarnationBytes.shift();
  }
  incarnationTexts.push(text);
  incarnationBytes.push(out.slice(at, at + 16));
}

/** Where a command id's counter starts in its text (its last 8 hex digits, see command-ids.ts). */
const COUNTER_AT = 28;
/** The first 28 characters of the last command id written whole, and their 12 bytes. */
let idPrefixText = '';
const idPrefixBytes = new Uint8Array(12);

/**
 * `uuidInto` of a command id: a replica's ids share their first 28 characters (command-ids.ts),
 * so only the counter's 8 hex digits are read when the prefix is the last one written whole.
 * Malformed text throws as `uuidInto` does.
 */
function commandIdInto(text: string, out: Uint8Array, at: number): void {
  if (text.length === 36 && idPrefixText !== '' && text.startsWith(idPrefixText)) {
    let ok = true;
    for (let i = COUNTER_AT, j = at + 12; i < 36; i += 2, j++) {
      const hi = hexValue(text.charCodeAt(i));
      const lo = hexValue(text.charCodeAt(i + 1));
      if (hi < 0 || lo < 0) ok = false;
      else out[j] = (hi << 4) | lo;
    }
    if (!ok) throw new TypeError(`not a uuid: ${text}`);
    out.set(idPrefixBytes, at);
    return;
  }
  uuidInto(text, out, at);
  idPrefixText = text.slice(0, COUNTER_AT);
  idPrefixBytes.set(out.subarray(at, at + 12));
}

/**
 * The text of the uuid at `data[at..at+16]`. Throws a `TypeError` where uuid's `stringify`
 * did: a version other than 1-8 or a variant other than RFC 4122's (except the all-zero and
 * all-ones uuids), so such a frame stays foreign.
 */
function uuidOf(data: Uint8Array, at: number): string {
  const version = data[at + 6]! >> 4;
  if (version < 1 || version > 8 || (data[at + 8]! & 0xc0) !== 0x80) {
    let all = true;
    const b0 = data[at]!;
    for (let i = 0; all && i < 16; i++) all = data[at + i] === b0;
    if (!all || (b0 !== 0 && b0 !== 0xff)) throw new TypeError('malformed uuid');
  }
  return hexText(data, at, 16);
}

/** The uuid text of `data[at..at+n]` (n <= 16), dashes after bytes 4, 6, 8 and 10. */
function hexText(data: Uint8Array, at: number, n: number): string {
  let out = '';
  for (let i = 0; i < n; i++) {
    if (i === 4 || i === 6 || i === 8 || i === 10) out += '-';
    out += HEX[data[at + i]!]!;
  }
  return out;
}

/**
 * Texts of byte strings seen recently, so that a frame's uuids are not spelled out again for
 * every frame: a group has few senders, and a sender's command ids share their first 12 bytes
 * (see command-ids.ts). A few entries, checked byte by byte, replaced in turn.
 */
class TextMemo {
  private readonly keys: Uint8Array[] = [];
  private readonly texts: string[] = [];
  private next = 0;

  constructor(
    private readonly size: number,
    private readonly spell: (data: Uint8Array, at: number) => string,
  ) {}

  /** The text of `data[at..at+size]` (what `spell` gives; it may throw). */
  text(data: Uint8Array, at: number): string {
    const n = this.size;
    const keys = this.keys;
    outer: for (let k = 0; k < keys.length; k++) {
      const key = keys[k]!;
      for (let i = 0; i < n; i++) if (key[i] !== data[at + i]) continue outer;
      return this.texts[k]!;
    }
    const text = this.spell(data, at);
    const slot = this.next;
    this.next = (slot + 1) % MEMO_ENTRIES;
    keys[slot] = data.slice(at, at + n);
    this.texts[slot] = text;
    return text;
  }
}

const MEMO_ENTRIES = 16;
/** Machine names seen recently (see `TextMemo`): bytes and text. */
const names: { bytes: Uint8Array; text: string }[] = [];

/** The machine name of `data` (`n` bytes at 41); throws on malformed UTF-8. */
function nameOf(data: Uint8Array, n: number): string {
  outer: for (const m of names) {
    const b = m.bytes;
    if (b.length !== n) continue;
    for (let i = 0; i < n; i++) if (b[i] !== data[41 + i]) continue outer;
    return m.text;
  }
  const text = decoder.decode(data.subarray(41, 41 + n));
  if (names.length >= MEMO_ENTRIES) names.shift();
  names.push({ bytes: data.slice(41, 41 + n), text });
  return text;
}

/** Incarnations: the whole uuid. */
const incarnations = new TextMemo(16, uuidOf);
/** Command ids: the first 12 bytes (a valid version and variant, see `commandIdOf`). */
const idPrefixes = new TextMemo(12, (data, at) => hexText(data, at, 12));

/**
 * A command id's text: its memoized first 12 bytes, then the 4 bytes of its counter. An id
 * whose version or variant (in those 12 bytes) is not a uuid's is checked whole by `uuidOf`.
 */
function commandIdOf(data: Uint8Array, at: number): string {
  const version = data[at + 6]! >> 4;
  if (version < 1 || version > 8 || (data[at + 8]! & 0xc0) !== 0x80) return uuidOf(data, at);
  // the counter's 8 digits as one string (four 2-digit strings added one by one made a chain
  // of four cons strings on every replica for every command)
  return (
    idPrefixes.text(data, at) +
    String.fromCharCode(
      HEX_CODES[data[at + 12]! >> 4]!,
      HEX_CODES[data[at + 12]! & 15]!,
      HEX_CODES[data[at + 13]! >> 4]!,
      HEX_CODES[data[at + 13]! & 15]!,
      HEX_CODES[data[at + 14]! >> 4]!,
      HEX_CODES[data[at + 14]! & 15]!,
      HEX_CODES[data[at + 15]! >> 4]!,
      HEX_CODES[data[at + 15]! & 15]!,
    )
  );
}

/** The char codes of the hex digits, lower case. */
const HEX_CODES = Array.from('0123456789abcdef', (c) => c.charCodeAt(0));

/** Encode a JSON body (bigints become decimal strings). */
export function jsonBody(value: unknown): Uint8Array {
  // from the buffer pool (see `pooled`)
  const b = Buffer.from(jsonText(value), 'utf8');
  return new Uint8Array(b.buffer, b.byteOffset, b.length);
}

/** The JSON text of a body (bigints become decimal strings). */
function jsonText(value: unknown): string {
  try {
    // without a replacer, V8's fast path (twice as fast): it throws on a bigint
    return JSON.stringify(value);
  } catch {
    return JSON.stringify(value, bigintReplacer);
  }
}

/**
 * Whether the JSON text in `body` (from byte `from` on) nests arrays and objects at most `max` deep. A linear scan
 * of the bytes (strings skipped, escapes included), so it cannot itself overflow the stack and
 * gives the same answer on every member.
 */
export function jsonDepthWithin(body: Uint8Array, max: number, from = 0): boolean {
  // Valid JSON nested deeper than `max` has an opening and a closing bracket per level: a
  // shorter text is within the bound without a scan (a command body usually is). Invalid JSON
  // answers true here too: every caller parses the text next (or built it) and refuses it then.
  if (body.length - from < 2 * (max + 1)) return true;
  let depth = 0;
  let inString = false;
  for (let i = from; i < body.length; i++) {
    const c = body[i]!;
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped byte
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return false;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return true;
}

/**
 * Parse a JSON body (`body[from..]`); `undefined` when it is not valid UTF-8 JSON.
 * @param from - where the JSON starts (a message's `bodyAt`: no view of the body needed)
 */
export function parseJsonBody(body: Uint8Array, from = 0): unknown {
  try {
    return JSON.parse(utf8Text(body, from)) as unknown;
  } catch {
    return undefined;
  }
}

/**
 * Node's `Buffer.prototype.utf8Slice` (undocumented, as old as Buffer; it works on any
 * `Uint8Array`, no view needed), or a decode through a `Buffer` view where it is missing.
 */
const utf8Slice: (this: Uint8Array, start: number, end: number) => string =
  (Buffer.prototype as unknown as { utf8Slice?: (start: number, end: number) => string })
    .utf8Slice ??
  function (this: Uint8Array, start: number, end: number): string {
    return Buffer.from(this.buffer, this.byteOffset, this.byteLength).toString('utf8', start, end);
  };

/**
 * The text of `bytes[from..]` as a fatal `TextDecoder` reads it (a leading byte order mark
 * dropped; throws a `TypeError` on malformed UTF-8), without its per-call cost (~150 ns per
 * message on every replica): `utf8Slice` replaces every malformed sequence by U+FFFD and
 * keeps a byte order mark, so a text with neither is the decoder's text, byte for byte, and
 * anything else is decoded again by the decoder itself.
 */
export function utf8Text(bytes: Uint8Array, from = 0): string {
  const text = utf8Slice.call(bytes, from, bytes.length);
  if (text.charCodeAt(0) === 0xfeff || text.includes('\uFFFD'))
    return decoder.decode(bytes.subarray(from));
  return text;
}

function bigintReplacer(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}

/**
 * Decode one message; `undefined` when it is not ours: wrong magic, unknown version or kind,
 * truncated, or a malformed uuid.
 */
export function decodeFrame(data: Uint8Array): Frame | undefined {
  if (data.length < HEADER_FIXED) return undefined;
  if (data[0] !== MAGIC0 || data[1] !== MAGIC1 || data[2] !== WIRE_VERSION) return undefined;
  const kind = data[3]!;
  if (kind < 1 || kind > KIND_MAX) return undefined;
  const n = data[40]!;
  if (data.length < HEADER_FIXED + n) return undefined;
  let name: string;
  let incarnation: string;
  let commandId: string | undefined;
  try {
    name = nameOf(data, n);
    incarnation = incarnations.text(data, 4);
    let zero = true;
    for (let i = 20; zero && i < 36; i++) zero = data[i] === 0;
    commandId = zero ? undefined : commandIdOf(data, 20);
  } catch {
    return undefined;
  }
  const epoch = ((data[36]! << 24) | (data[37]! << 16) | (data[38]! << 8) | data[39]!) >>> 0;
  return new DecodedFrame(kind as KindValue, incarnation, commandId, epoch, name, data, 41 + n);
}

/** Pack a JSON header and raw bytes into one body: u32 length, JSON, bytes. */
export function packChunk(header: unknown, bytes: Uint8Array): Uint8Array {
  const h = jsonBody(header);
  const out = new Uint8Array(4 + h.length + bytes.length);
  new DataView(out.buffer).setUint32(0, h.length);
  out.set(h, 4);
  out.set(bytes, 4 + h.length);
  return out;
}

// ---------------------------------------------------------------- bodies
//
// Every body is validated field by field on receive, before anything looks at it: a body that
// does not parse is counted as foreign and skipped, like a frame that does not decode. All
// members receive the same bytes, so they all skip the same messages.

/** The body of a `command`: the sender's wall time and the user's command. */
export interface CommandBody {
  readonly t: number;
  readonly c: unknown;
}

/** The body of a `tick`: the replicated time it moves to. */
export interface TickBody {
  readonly t: number;
}

/** The body of a `retire`: the replica id that leaves `Q`. */
export interface RetireBody {
  readonly r: string;
}

/**
 * The body of a `summary`: the sender's sync `Summary` as it goes on the wire, for one round,
 * with the index as a decimal string. Who sent it (key, node id, pid, incarnation) comes from
 * the frame, not the body.
 */
export type SummaryBody = Omit<Summary, 'key' | 'nodeid' | 'pid' | 'incarnation' | 'index'> & {
  readonly round: string;
  /** The sender's index, as a decimal string (parsed to `index`). */
  readonly index: string;
};

/**
 * The JSON header of a snapshot chunk: a state transfer cut to the size of a message. Not
 * core's chunk frames (`ChunkFrameHeader`), which cut any payload over the atomic size.
 */
export interface SnapshotChunkHeader {
  readonly tag: string;
  /** This chunk's number, from 0. */
  readonly i: number;
  /** Whether this is the transfer's last chunk (the leader sends them while it writes them). */
  readonly last: boolean;
  /** The digest of the whole image. */
  readonly digest: string;
}

/** The body of a `check`: the check's id. */
export interface CheckBody {
  readonly id: string;
}

/** The body of a `digest`: the sender's digest at a check. */
export interface DigestBody {
  readonly id: string;
  readonly index: bigint;
  readonly digest: string;
}

/** The body of a `close`: the round and the keys of its participants. */
export interface CloseBody {
  readonly round: string;
  readonly participants: readonly string[];
}

/**
 * The body of an `ack`: replica `r` of `Q` applied everything up to `i`, and (when it persists)
 * its disk holds everything up to `d`; `f` when it runs `durability: 'fsync'`.
 */
export interface AckBody {
  readonly i: bigint;
  readonly r: string;
  readonly d?: bigint;
  readonly f?: true;
}

/** The latest time a JavaScript `Date` can hold (ms): replicated times stay within it. */
export const MAX_TIME = 8.64e15;

type Obj = Readonly<Record<string, unknown>>;

function object(body: Uint8Array, from = 0): Obj | undefined {
  const v = parseJsonBody(body, from);
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Obj) : undefined;
}

/** A finite time within `Date`'s range (`1e400` parses as `Infinity`: it would freeze time). */
function isTime(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v) && Math.abs(v) <= MAX_TIME;
}

function isCount(v: unknown, max = Number.MAX_SAFE_INTEGER): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 && v <= max;
}

/** A non-negative decimal integer (an index), at most 40 digits. */
function isIndex(v: unknown): v is string {
  return typeof v === 'string' && /^[0-9]{1,40}$/.test(v);
}

function isStrings(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((x) => typeof x === 'string');
}

/**
 * Parse a `command` body (`body[from..]`: a message's `bodyAt`); `undefined` when malformed.
 */
export function parseCommandBody(body: Uint8Array, from = 0): CommandBody | undefined {
  // the body is { t, c }: one level more than the command
  if (!jsonDepthWithin(body, MAX_BODY_DEPTH + 1, from)) return undefined;
  const b = object(body, from);
  // the parsed object itself (a copy of `{ t, c }` was one more object per command)
  return b !== undefined && isTime(b.t) ? (b as unknown as CommandBody) : undefined;
}

/** Parse a `tick` body; `undefined` when malformed. */
export function parseTickBody(body: Uint8Array): TickBody | undefined {
  const b = object(body);
  return b !== undefined && isTime(b.t) ? { t: b.t } : undefined;
}

/** Parse a `retire` body; `undefined` when malformed. */
export function parseRetireBody(body: Uint8Array): RetireBody | undefined {
  const b = object(body);
  return b !== undefined && typeof b.r === 'string' ? { r: b.r } : undefined;
}

/** Parse a `summary` body; `undefined` when any field is missing or of the wrong type. */
export function parseSummaryBody(body: Uint8Array): SummaryBody | undefined {
  const b = object(body);
  if (
    b === undefined ||
    typeof b.round !== 'string' ||
    !isCount(b.seq) ||
    !isCount(b.epoch, 0xffffffff) ||
    typeof b.settled !== 'boolean' ||
    !isIndex(b.index) ||
    typeof b.digest !== 'string' ||
    typeof b.primary !== 'boolean' ||
    typeof b.fresh !== 'boolean' ||
    typeof b.dirty !== 'boolean' ||
    typeof b.passive !== 'boolean' ||
    typeof b.bootstrap !== 'boolean' ||
    typeof b.force !== 'boolean' ||
    typeof b.quorate !== 'boolean' ||
    !isCount(b.ringNodes) ||
    !isCount(b.knownNodes) ||
    typeof b.replica !== 'string' ||
    !isStrings(b.replicas) ||
    !isStrings(b.gone) ||
    !isStrings(b.provenReplicas) ||
    !isStrings(b.provenGone) ||
    !isTime(b.time)
  )
    return undefined;
  return {
    round: b.round,
    seq: b.seq,
    epoch: b.epoch,
    settled: b.settled,
    index: b.index,
    digest: b.digest,
    primary: b.primary,
    fresh: b.fresh,
    dirty: b.dirty,
    passive: b.passive,
    bootstrap: b.bootstrap,
    force: b.force,
    quorate: b.quorate,
    ringNodes: b.ringNodes,
    knownNodes: b.knownNodes,
    replica: b.replica,
    replicas: b.replicas,
    gone: b.gone,
    provenReplicas: b.provenReplicas,
    provenGone: b.provenGone,
    time: b.time,
  };
}

/** Parse a `snapshot` chunk (see `packChunk`); `undefined` when malformed. */
export function parseChunkBody(
  body: Uint8Array,
): { header: SnapshotChunkHeader; bytes: Uint8Array } | undefined {
  const c = unpackChunk(body);
  const h = c?.header as Obj | undefined;
  if (
    c === undefined ||
    typeof h !== 'object' ||
    h === null ||
    Array.isArray(h) ||
    typeof h.tag !== 'string' ||
    !isCount(h.i) ||
    typeof h.last !== 'boolean' ||
    typeof h.digest !== 'string'
  )
    return undefined;
  return { header: { tag: h.tag, i: h.i, last: h.last, digest: h.digest }, bytes: c.bytes };
}

/** Parse a `check` body; `undefined` when malformed. */
export function parseCheckBody(body: Uint8Array): CheckBody | undefined {
  const b = object(body);
  return b !== undefined && typeof b.id === 'string' ? { id: b.id } : undefined;
}

/** Parse a `digest` body; `undefined` when malformed. */
export function parseDigestBody(body: Uint8Array): DigestBody | undefined {
  const b = object(body);
  if (
    b === undefined ||
    typeof b.id !== 'string' ||
    !isIndex(b.index) ||
    typeof b.digest !== 'string'
  )
    return undefined;
  return { id: b.id, index: BigInt(b.index), digest: b.digest };
}

/** Parse a `close` body; `undefined` when malformed. */
export function parseCloseBody(body: Uint8Array): CloseBody | undefined {
  const b = object(body);
  return b !== undefined && typeof b.round === 'string' && isStrings(b.participants)
    ? { round: b.round, participants: b.participants }
    : undefined;
}

/** Parse an `ack` body (`body[from..]`: a message's `bodyAt`); `undefined` when malformed. */
export function parseAckBody(body: Uint8Array, from = 0): AckBody | undefined {
  const b = object(body, from);
  if (b === undefined || !isIndex(b.i) || typeof b.r !== 'string') return undefined;
  if (b.d === undefined) return { i: BigInt(b.i), r: b.r };
  if (!isIndex(b.d) || (b.f !== undefined && b.f !== 1)) return undefined;
  const ack = { i: BigInt(b.i), r: b.r, d: BigInt(b.d) };
  return b.f === 1 ? { ...ack, f: true } : ack;
}

/** Unpack `packChunk`'s body; `undefined` when malformed. */
export function unpackChunk(body: Uint8Array): { header: unknown; bytes: Uint8Array } | undefined {
  if (body.length < 4) return undefined;
  const len = new DataView(body.buffer, body.byteOffset, body.byteLength).getUint32(0);
  if (body.length < 4 + len) return undefined;
  const header = parseJsonBody(body.subarray(4, 4 + len));
  if (header === undefined) return undefined;
  return { header, bytes: body.subarray(4 + len) };
}
