/**
 * cpgkit's frame format: how `Group` packs logical messages into CPG messages.
 *
 * A CPG message is one of:
 *
 * - **raw**: any bytes that do not start with the magic. A single message sent alone goes out
 *   raw (no header at all), so a plain C libcpg client in the same group reads exactly what
 *   we sent, and what it sends reaches us as one `message` event.
 * - **frame**: a 6-byte header, then a body that depends on the kind:
 *
 * ```
 * offset 0  4 bytes  magic   0xFF 0x63 0x70 0x67  ("\xFFcpg"; 0xFF never occurs in UTF-8)
 * offset 4  1 byte   version 1
 * offset 5  1 byte   kind    1 = batch, 2 = chunk
 *
 * batch (kind 1): one or more entries, exactly filling the rest of the message:
 *   u32 little-endian length, then that many bytes
 *   Each entry is delivered as its own `message` event, consecutively, same sender.
 *
 * chunk (kind 2): one piece of a payload larger than the engine's atomic size:
 *   offset 6   u32 LE  message id (per sender, wrapping)
 *   offset 10  u32 LE  total payload length
 *   offset 14  u32 LE  offset of this piece in the payload
 *   offset 18  the piece (at least 1 byte)
 *   Pieces of one payload are sent consecutively by their sender, in order. A receiver
 *   reassembles them and decodes the payload as if it had arrived as one CPG message (raw,
 *   or a batch frame). It is delivered at the position of its last piece. A partial payload
 *   whose sender leaves, or that is interrupted by another payload's first piece, is dropped.
 * ```
 *
 * Foreign messages (from a plain libcpg client, or anything else) are delivered as one raw
 * `message` event, byte for byte, and never crash a receiver, with one exception: a message
 * is taken as a frame exactly when it carries cpgkit's magic AND a valid header, that is
 *
 * - a batch: magic, version 1, kind 1, and u32 lengths that fill the message exactly (at
 *   least one entry): it is split into its entries;
 * - a chunk: magic, version 1, kind 2, more than 18 bytes, `offset + piece length <= total`
 *   and `total` no more than the receiver's `maxMessageSize`: it is held for reassembly and
 *   reaches the application only as part of a completed payload. Such a piece is dropped
 *   (counted in `FrameDecoder.stats.droppedPieces`) when it does not continue its sender's
 *   partial payload (no offset-0 piece before it, another id or total, or not at the next
 *   offset), and a partial payload is dropped when its sender leaves or starts another one.
 *   A lone offset-0 piece with `total` equal to its own length is a whole payload: delivered
 *   (raw, or split if it is itself a batch frame).
 *
 * Everything else that starts with the magic (too short, another version, an unknown kind, batch
 * lengths that do not add up, a chunk whose piece overruns its total or whose total exceeds the
 * limit) is delivered raw. The magic opens with 0xFF, which never occurs in UTF-8, so text never
 * collides; binary data must begin with these 4 bytes and then also have a valid header to be
 * mistaken for a frame. We do not deliver orphan pieces raw: a member that joins in the middle
 * of a cpgkit peer's chunked payload gets such pieces, and they are not messages. A single
 * message that itself starts with the magic is sent wrapped in a batch frame of one entry, so
 * that it arrives intact.
 * @module
 */

/** The frame format version this code writes and reads. */
export const FRAME_VERSION = 1;
/** Frame kind: several logical messages in one CPG message. */
export const KIND_BATCH = 1;
/** Frame kind: one piece of a payload larger than the engine's atomic message size. */
export const KIND_CHUNK = 2;
/** Bytes in the common frame header (magic, version, kind). */
export const HEADER_SIZE = 6;
/** Bytes before each batch entry (its u32 length). */
export const ENTRY_OVERHEAD = 4;
/** Bytes of a chunk frame before its piece. */
export const CHUNK_HEADER_SIZE = 18;
/**
 * The default largest logical message a `Group` sends or reassembles (64 MiB). Larger sends
 * reject with `MessageTooLargeError`.
 */
export const DEFAULT_MAX_MESSAGE_SIZE = 64 * 1024 * 1024;

/** Whether `data` begins with the frame magic (and so cannot be sent raw). */
export function startsWithMagic(data: Uint8Array): boolean {
  return (
    data.length >= 4 && data[0] === 0xff && data[1] === 0x63 && data[2] === 0x70 && data[3] === 0x67
  );
}

/** Write the 6-byte header of a frame of `kind` at `buf[0..6)`. */
export function writeHeader(buf: Uint8Array, kind: number): void {
  buf[0] = 0xff;
  buf[1] = 0x63;
  buf[2] = 0x70;
  buf[3] = 0x67;
  buf[4] = FRAME_VERSION;
  buf[5] = kind;
}

/** Write a u32 little-endian at `pos`. */
export function writeU32(buf: Uint8Array, pos: number, value: number): void {
  buf[pos] = value & 0xff;
  buf[pos + 1] = (value >>> 8) & 0xff;
  buf[pos + 2] = (value >>> 16) & 0xff;
  buf[pos + 3] = (value >>> 24) & 0xff;
}

/** Read a u32 little-endian at `pos` (the caller checked the bounds). */
export function readU32(buf: Uint8Array, pos: number): number {
  return (buf[pos]! | (buf[pos + 1]! << 8) | (buf[pos + 2]! << 16) | (buf[pos + 3]! << 24)) >>> 0;
}

/** The kind of a valid frame header (version 1), or 0 when `data` is not a frame. */
export function frameKind(data: Uint8Array): number {
  if (data.length < HEADER_SIZE || !startsWithMagic(data) || data[4] !== FRAME_VERSION) return 0;
  const kind = data[5]!;
  return kind === KIND_BATCH || kind === KIND_CHUNK ? kind : 0;
}

/**
 * The number of entries of a batch frame, or -1 when the lengths do not add up exactly
 * (then the message is delivered raw).
 */
export function batchCount(data: Uint8Array): number {
  let pos = HEADER_SIZE;
  let count = 0;
  const end = data.length;
  while (pos < end) {
    if (pos + ENTRY_OVERHEAD > end) return -1;
    const len = readU32(data, pos);
    pos += ENTRY_OVERHEAD + len;
    if (pos > end) return -1;
    count++;
  }
  return count === 0 ? -1 : count;
}

/**
 * A parsed chunk frame header: core's layer, one piece of any payload over the atomic size
 * (not the state machine's snapshot chunks, statemachine/src/wire.ts).
 */
export interface ChunkFrameHeader {
  readonly id: number;
  readonly total: number;
  readonly offset: number;
}

/** The header of a chunk frame, or `undefined` when it is not a valid chunk. */
export function parseChunk(data: Uint8Array): ChunkFrameHeader | undefined {
  if (data.length <= CHUNK_HEADER_SIZE) return undefined;
  const id = readU32(data, 6);
  const total = readU32(data, 10);
  const offset = readU32(data, 14);
  if (offset + (data.length - CHUNK_HEADER_SIZE) > total) return undefined;
  return { id, total, offset };
}

/** A chunk frame's 18-byte header, for sending with its piece as a second iovec part. */
export function chunkHeader(id: number, total: number, offset: number): Uint8Array {
  const h = new Uint8Array(CHUNK_HEADER_SIZE);
  writeHeader(h, KIND_CHUNK);
  writeU32(h, 6, id);
  writeU32(h, 10, total);
  writeU32(h, 14, offset);
  return h;
}

/**
 * Encode logical messages as one payload: a lone message that does not start with the magic
 * stays raw; anything else becomes a batch frame.
 */
export function encodePayload(messages: readonly Uint8Array[]): Uint8Array {
  if (messages.length === 1 && !startsWithMagic(messages[0]!)) return messages[0]!;
  let size = HEADER_SIZE;
  for (const m of messages) size += ENTRY_OVERHEAD + m.length;
  const out = new Uint8Array(size);
  writeHeader(out, KIND_BATCH);
  let pos = HEADER_SIZE;
  for (const m of messages) {
    writeU32(out, pos, m.length);
    out.set(m, pos + ENTRY_OVERHEAD);
    pos += ENTRY_OVERHEAD + m.length;
  }
  return out;
}
