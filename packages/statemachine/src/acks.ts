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
  const seen: bigint[] = [];
  for (const r of q) seen.push(r === self ? selfIndex : (progress.get(r) ?? 0n));
  seen.sort((a, b) => (a > b ? -1 : a < b ? 1 : 0));
  return seen[Math.floor(q.length / 2)]!;
}
