/**
 * What kind of statemachine frame a replica sends (a command, a summary, an ack...): byte 3 of
 * the wire format, compared with `Kind`. The nemesis's traps spring on it.
 * @module
 */

/** The kind byte of `frame` (`Kind`), or -1 when it is too short to have one. */
export function frameKind(frame: Uint8Array): number {
  return frame[3] ?? -1;
}
