/**
 * Durations on the command line: `500ms`, `5s`, `2m`, `1h` (decimals allowed: `1.5s`). A bare
 * number keeps the unit its flag always had (`send --timeout` milliseconds, the others
 * seconds), so scripts written before units keep working.
 * @module
 */
import { UsageError } from './errors.js';

/** The unit of a bare number. */
export type BareUnit = 'ms' | 's';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * Parse a duration into milliseconds.
 * @param text - `500ms`, `5s`, `2m`, `1h`, or a bare number in `bare` units
 * @param bare - the unit of a bare number
 * @returns milliseconds, or `undefined` when `text` is not a duration
 * @example
 * ```ts
 * parseDuration('2m', 's'); // 120000
 * parseDuration('1.5', 's'); // 1500
 * parseDuration('250', 'ms'); // 250
 * ```
 */
export function parseDuration(text: string, bare: BareUnit): number | undefined {
  const m = /^(\d+(?:\.\d+)?|\.\d+)(ms|s|m|h)?$/.exec(text.trim());
  if (m === null) return undefined;
  const n = Number(m[1]) * UNIT_MS[m[2] ?? bare]!;
  return Number.isFinite(n) ? n : undefined;
}

/** A commander argument parser for the duration flag `flag`: milliseconds. */
export function duration(flag: string, bare: BareUnit) {
  return (value: string): number => {
    const ms = parseDuration(value, bare);
    if (ms === undefined)
      throw new UsageError(
        `${flag} wants a duration such as 500ms, 5s or 2m (a bare number is ${bare === 's' ? 'seconds' : 'milliseconds'}), got '${value}'`,
      );
    return ms;
  };
}

/** `ms` for messages: `1.5 s`, `250 ms`. */
export function formatDuration(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${Math.round(ms / 100) / 10} s`;
}
