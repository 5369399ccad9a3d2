/**
 * The memory layout of the libcpg structs cpgkit reads and writes by hand (x86-64 and arm64
 * Linux: `uint32_t` fields, little- or big-endian as the host). Pure functions over Buffers, no
 * koffi: unit-tested without a daemon.
 *
 * Group names are length-delimited: `struct cpg_name { uint32_t length; char value[128]; }`.
 * cpgkit's rule: the name is its UTF-8 bytes, **no trailing NUL counted** (the same as a C client
 * that sets `length = strlen(name)`, like corosync's own `testcpg`). corosync-cpgtool then shows
 * the name as typed. A client that counts the NUL (`strlen(name) + 1`) is in a DIFFERENT group,
 * which corosync-cpgtool shows with a trailing `\x00`.
 * @module
 */
import { InvalidGroupNameError } from '../errors.js';
import type { MemberChange, MemberId, MembershipReason } from '../types.js';

/** `CPG_MAX_NAME_LENGTH`: the longest group name, in bytes. */
export const CPG_MAX_NAME_LENGTH = 128;
/** `sizeof(struct cpg_name)`. */
export const CPG_NAME_SIZE = 4 + CPG_MAX_NAME_LENGTH;
/** `sizeof(struct cpg_address)`: nodeid, pid, reason. */
export const CPG_ADDRESS_SIZE = 12;
/** `sizeof(struct cpg_iteration_description_t)`: a cpg_name, then nodeid and pid. */
export const CPG_ITERATION_DESCRIPTION_SIZE = CPG_NAME_SIZE + 8;
/**
 * How many entries `cpg_membership_get` may write whatever capacity it is told: it ignores the
 * caller's count and copies up to the daemon's own limit (`PROCESSOR_COUNT_MAX` = 384).
 */
export const CPG_MEMBERSHIP_GET_MAX = 384;

const littleEndian = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Read a host-endian `uint32_t`. */
export function readU32(buf: Uint8Array, offset: number): number {
  const b = buf as Buffer;
  return littleEndian ? b.readUInt32LE(offset) : b.readUInt32BE(offset);
}

/** Write a host-endian `uint32_t`. */
export function writeU32(buf: Uint8Array, offset: number, value: number): void {
  const b = buf as Buffer;
  if (littleEndian) b.writeUInt32LE(value, offset);
  else b.writeUInt32BE(value, offset);
}

/**
 * Check a group name (1..128 bytes) and return its bytes. Throws `InvalidGroupNameError`
 * before any C call.
 */
export function groupNameBytes(name: string | Uint8Array): Uint8Array {
  const bytes = typeof name === 'string' ? Buffer.from(name, 'utf8') : name;
  if (bytes.length === 0) throw new InvalidGroupNameError('a group name must not be empty');
  if (bytes.length > CPG_MAX_NAME_LENGTH) {
    throw new InvalidGroupNameError(
      `group name is ${bytes.length} bytes of UTF-8; corosync allows at most ${CPG_MAX_NAME_LENGTH}`,
    );
  }
  return bytes;
}

/** Encode a `struct cpg_name` (length, then the bytes; no NUL). Validates like `groupNameBytes`. */
export function encodeCpgName(name: string | Uint8Array): Buffer {
  const bytes = groupNameBytes(name);
  const buf = Buffer.alloc(CPG_NAME_SIZE);
  writeU32(buf, 0, bytes.length);
  buf.set(bytes, 4);
  return buf;
}

/** Decode a `struct cpg_name` at `offset` into a copy of its bytes. */
export function decodeCpgName(buf: Uint8Array, offset = 0): Uint8Array {
  const length = Math.min(readU32(buf, offset), CPG_MAX_NAME_LENGTH);
  return Uint8Array.prototype.slice.call(buf, offset + 4, offset + 4 + length);
}

const reasons: readonly MembershipReason[] = [
  'join',
  'join',
  'leave',
  'nodedown',
  'nodeup',
  'procdown',
];

/** `cpg_reason_t` as a `MembershipReason` (`CPG_REASON_UNDEFINED`, which corosync never sends, reads as `join`). */
export function reasonName(reason: number): MembershipReason {
  return reasons[reason] ?? 'join';
}

/** Decode `count` `struct cpg_address` entries as members (nodeid, pid). */
export function decodeMembers(buf: Uint8Array, count: number, offset = 0): MemberId[] {
  const out: MemberId[] = [];
  for (let i = 0; i < count; i++) {
    const at = offset + i * CPG_ADDRESS_SIZE;
    out.push({ nodeid: readU32(buf, at), pid: readU32(buf, at + 4) });
  }
  return out;
}

/** Decode `count` `struct cpg_address` entries with their reasons. */
export function decodeChanges(buf: Uint8Array, count: number, offset = 0): MemberChange[] {
  const out: MemberChange[] = [];
  for (let i = 0; i < count; i++) {
    const at = offset + i * CPG_ADDRESS_SIZE;
    out.push({
      nodeid: readU32(buf, at),
      pid: readU32(buf, at + 4),
      reason: reasonName(readU32(buf, at + 8)),
    });
  }
  return out;
}

/** Read a host-endian `uint64_t` (handles). */
export function readU64(buf: Buffer, offset = 0): bigint {
  return littleEndian ? buf.readBigUInt64LE(offset) : buf.readBigUInt64BE(offset);
}

/** Read a host-endian `int32_t` (fds, counts). */
export function readI32(buf: Buffer, offset = 0): number {
  return littleEndian ? buf.readInt32LE(offset) : buf.readInt32BE(offset);
}

/** Write a host-endian `int32_t`. */
export function writeI32(buf: Buffer, offset: number, value: number): void {
  if (littleEndian) buf.writeInt32LE(value, offset);
  else buf.writeInt32BE(value, offset);
}
