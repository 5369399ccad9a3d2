/**
 * The nemesis's draws from the seed, as the faults that live in files of their own
 * (round-kill-faults.ts, mid-step-faults.ts) take them: every draw comes from the one `Random`
 * of the schedule, in the order the fault makes it, so a seed replays exactly.
 * @module
 */
import type { Random } from '@cpgkit/core/testing';
import type { ServiceKind } from './system.js';

/** The nemesis's draws. */
export interface Draws {
  readonly rng: Random;
  /** A replica kind (one draw). */
  kind(): ServiceKind;
  /** A minority against a majority of the nodes (`alone`: one node against the rest). */
  split(alone: boolean): number[][];
}

/** One of `xs`, drawn. */
export function pick<T>(rng: Random, xs: readonly T[]): T {
  return xs[rng.int(xs.length)]!;
}
