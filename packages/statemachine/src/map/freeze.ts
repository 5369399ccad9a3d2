/**
 * Deep freezing of the store's values, so that a value read from `ReplicatedMap` cannot be
 * modified in place (which would change this replica's state and not the others').
 * @module
 */

/**
 * Freeze `v` and everything reachable from it, in place, and return it. Children are frozen
 * before their parent, so a frozen object is frozen all the way down: a value already frozen
 * costs one check.
 */
export function deepFreeze<T>(v: T): T {
  if (typeof v !== 'object' || v === null || Object.isFrozen(v)) return v;
  for (const k of Object.keys(v)) deepFreeze((v as Record<string, unknown>)[k]);
  return Object.freeze(v);
}
