/**
 * JSON in pieces: a large value as a sequence of small JSON texts, so that a writer can yield
 * to the event loop between them (a persisted snapshot, persistence.ts; a snapshot on the
 * wire, snapshot-text.ts). A value is one piece when it has at most `PIECE_MEMBERS` members
 * in all (nested ones included); a larger one is cut at its members.
 * @module
 */

/** Values with at most this many members in all (nested ones included) are one piece. */
export const PIECE_MEMBERS = 2048;

/** A member JSON leaves out of an object (and writes as `null` in an array). */
export function skippedInJson(v: unknown): boolean {
  return v === undefined || typeof v === 'function' || typeof v === 'symbol';
}

/** `budget` minus the members of `value`, nested ones included; stops below 0. */
export function membersLeft(value: unknown, budget: number): number {
  if (value === null || typeof value !== 'object') return budget;
  if (Array.isArray(value)) {
    budget -= value.length;
    for (let i = 0; i < value.length && budget >= 0; i++) budget = membersLeft(value[i], budget);
    return budget;
  }
  // for-in, not Object.values: no array built for each of a state's many small objects
  const obj = value as Record<string, unknown>;
  for (const k in obj) {
    if (!Object.hasOwn(obj, k)) continue;
    budget = membersLeft(obj[k], budget - 1);
    if (budget < 0) return budget;
  }
  return budget;
}

/** Whether `value` is written as one piece (else member by member). */
export function onePiece(value: unknown): boolean {
  return (
    value === null ||
    typeof value !== 'object' ||
    'toJSON' in value ||
    membersLeft(value, PIECE_MEMBERS) >= 0
  );
}

/** `JSON.stringify(value)` in pieces (the same text once joined). */
export function* jsonPieces(value: unknown): Generator<string> {
  if (onePiece(value)) {
    yield JSON.stringify(value) ?? 'null';
    return;
  }
  if (Array.isArray(value)) {
    yield '[';
    for (let i = 0; i < value.length; i++) {
      if (i > 0) yield ',';
      const v: unknown = value[i];
      if (skippedInJson(v)) yield 'null';
      else yield* jsonPieces(v);
    }
    yield ']';
    return;
  }
  const obj = value as Record<string, unknown>;
  yield '{';
  let first = true;
  for (const k of Object.keys(obj)) {
    const v = obj[k];
    if (skippedInJson(v)) continue;
    yield `${first ? '' : ','}${JSON.stringify(k)}:`;
    first = false;
    yield* jsonPieces(v);
  }
  yield '}';
}
