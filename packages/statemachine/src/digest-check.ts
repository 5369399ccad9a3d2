/**
 * The digest check: every participant of the round computes its digest at the same point of
 * the agreed stream (a `check` message) and sends it; each member compares its own with the
 * digest most participants sent. Pure tally; the machine sends and repairs.
 * @module
 */

/** One check in progress on this member. */
export interface Check {
  /** The round's participants (member keys) whose digests are awaited. */
  readonly expected: readonly string[];
  /** Our digest at the check's point of the stream. */
  readonly mine: string;
  /** Our index there. */
  readonly index: bigint;
  /** Digests received, by member key. */
  readonly got: Map<string, string>;
}

/**
 * Once every expected digest is in: the digest most participants sent (ties: the one the
 * first expected participant sent) and a participant that sent it. `undefined` while some
 * are missing.
 */
export function tallyDigests(c: Check): { digest: string; from: string } | undefined {
  if (!c.expected.every((k) => c.got.has(k))) return undefined;
  const counts = new Map<string, number>();
  for (const k of c.expected) counts.set(c.got.get(k)!, (counts.get(c.got.get(k)!) ?? 0) + 1);
  let best = c.got.get(c.expected[0]!)!;
  for (const [dg, n] of counts) if (n > counts.get(best)!) best = dg;
  return { digest: best, from: c.expected.find((k) => c.got.get(k) === best)! };
}
