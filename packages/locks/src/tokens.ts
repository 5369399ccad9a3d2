/**
 * Fencing tokens and terms: strictly increasing per name.
 * @module
 */

/** Tokens issued per millisecond of replicated time before the counter runs ahead of the clock floor. */
export const TOKENS_PER_MS = 1000n;

/**
 * How tokens and terms are numbered.
 * - `clock` (default): `max(last + 1, time × 1000)` — the counter, floored by replicated time,
 *   so that even a full restart WITHOUT persistence (the counter starts again from 0) issues
 *   tokens above every token issued before, as long as the wall clock of the restarted
 *   cluster is later than the clock of the last grant before the restart.
 * - `counter`: `last + 1` (1, 2, 3...); resets if every member restarts without persistence.
 */
export type TokenScheme = 'clock' | 'counter';

/**
 * The token after `last` at replicated time `time`.
 * @param last - the last token issued for the name (decimal string)
 * @param time - replicated time (ms) of the grant
 * @param scheme - see `TokenScheme`
 */
export function nextToken(last: string, time: number, scheme: TokenScheme): string {
  const counter = BigInt(last) + 1n;
  if (scheme === 'counter') return counter.toString();
  const floor = BigInt(Math.max(0, Math.floor(time))) * TOKENS_PER_MS;
  return (counter > floor ? counter : floor).toString();
}
