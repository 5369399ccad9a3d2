/**
 * Majority acknowledgement: which index a strict majority of the replica set `Q` applied.
 * Pure; the machine keeps what each replica said in the round (`progress`).
 * @module
 */

/**
 * The highest index that a strict majority of `q` applied: the `⌊|q|/2⌋`-th highest of what
 * each replica of `q` said (0 for those not heard from), `self` counting with `selfIndex`.
 * With an empty `q` (a state that never had a quorate round), `selfIndex`.
 *
 * @example
 * ```ts
 * commitIndex(['a', 'b', 'c'], 'a', 9n, new Map([['b', 7n]])); // 7n: a and b hold 7
 * ```
 */
export function commitIndex(
  q: readonly string[],
  self: string,
  selfIndex: bigint,
  progress: ReadonlyMap<string, bigint>,
): bigint {
  if (q.length === 0) return selfIndex;
  // an insertion sort, highest first, into a scratch array: this runs at every ack, and `q`
  // has a few members (an array and a sort per call were a share of each command's garbage).
  // The array keeps its length between calls: emptied, it dropped its backing store, and the
  // next call allocated one again. Only its first `n` items are read, each written first.
  const seen = scratch;
  const n = q.length;
  for (let i = 0; i < n; i++) {
    const r = q[i]!;
    const v = r === self ? selfIndex : (progress.get(r) ?? 0n);
    let j = i;
    for (; j > 0 && seen[j - 1]! < v; j--) seen[j] = seen[j - 1]!;
    seen[j] = v;
  }
  return seen[Math.floor(n / 2)]!;
}

/** `commitIndex`'s working array (its first `q.length` items written by each call). */
const scratch: bigint[] = [];

/**
 * Whether `self` acks a command of `writer` at once: the `⌊|q|/2⌋ + 1` replicas of `Q` that
 * follow the writer in `q` (`Q` in an order every member agrees on; around the end) do. Their
 * acks alone are a strict majority of `Q`, so every member counts the commit index from them,
 * without the writer's ack or the remaining replicas' (which hold theirs back until it is
 * covered: acknowledgement.ts, `ACK_DEFER_MS`). In a `Q` of 3 or 4 that is every other
 * replica; in a `Q` of 5 three of four, of 7 four of six: one agreed message fewer per write
 * for each replica left out, each delivered to every member. Rotating with the writer spreads
 * the acking over `Q`. A writer or a `self` outside `q` (a replica of the last proven `Q`
 * while the epoch is unproven): at once.
 *
 * @example
 * ```ts
 * acksAtOnce(['a', 'b', 'c', 'd', 'e'], 'd', 'c'); // false: e, a, b ack d's commands
 * ```
 */
export function acksAtOnce(q: readonly string[], writer: string, self: string): boolean {
  const n = q.length;
  const w = q.indexOf(writer);
  const s = q.indexOf(self);
  if (w < 0 || s < 0) return true;
  if (s === w) return false;
  return (s - w + n) % n <= Math.floor(n / 2) + 1;
}
