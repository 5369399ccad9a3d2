/**
 * The one immer instance of @cpgkit/statemachine, and the one place that enables patches.
 *
 * Without auto-freeze: deep-freezing the result of every apply walked every new object (~40%
 * of a set's CPU before the store got its own reducer). The state is still immutable by
 * convention: every apply yields a new object and shares what did not change, so `state` (and
 * what `subscribe` hands out) must never be modified by users. Patches are on because a
 * persisting replica logs the patches of every change (journal.ts) and replays them on load
 * (persistence.ts).
 * @module
 */
import { enablePatches, Immer, type Draft, type Patch } from 'immer';

enablePatches();

/** The package's immer instance (no auto-freeze, patches enabled). */
export const immer = new Immer({ autoFreeze: false });

/**
 * Apply `recipe` to `state`; when `patches` is given, push the change's patches onto it.
 * Returns the next state (`state` itself when nothing changed).
 */
export function produceState<S>(
  state: S,
  recipe: (draft: Draft<S>) => void,
  patches: Patch[] | undefined,
): S {
  if (patches === undefined) return immer.produce(state, recipe);
  const [next, p] = immer.produceWithPatches(state, recipe);
  for (const x of p) patches.push(x);
  return next;
}
