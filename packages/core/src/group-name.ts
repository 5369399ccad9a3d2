/**
 * Group names: what bytes a name becomes, and which names are valid.
 * @module
 */
import { InvalidGroupNameError } from './errors.js';

/** The longest group name corosync takes, in bytes (`CPG_MAX_NAME_LENGTH`). */
export const MAX_GROUP_NAME_BYTES = 128;

const encoder = new TextEncoder();

/**
 * The bytes of a group name: its UTF-8 encoding, with no trailing NUL (cpgkit never counts a
 * NUL in the length, so `orders` here is the group a C client joins with
 * `strcpy(name.value, "orders"); name.length = 6`).
 * @param name - 1..128 bytes of UTF-8
 * @throws InvalidGroupNameError when the name is empty or longer than 128 bytes
 */
export function encodeGroupName(name: string): Uint8Array {
  if (typeof name !== 'string') {
    throw new InvalidGroupNameError('a group name must be a string');
  }
  const bytes = encoder.encode(name);
  if (bytes.length === 0) throw new InvalidGroupNameError('a group name cannot be empty');
  if (bytes.length > MAX_GROUP_NAME_BYTES) {
    throw new InvalidGroupNameError(
      `group name is ${bytes.length} bytes of UTF-8; corosync takes at most ${MAX_GROUP_NAME_BYTES}`,
    );
  }
  return bytes;
}
