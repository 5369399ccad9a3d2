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
