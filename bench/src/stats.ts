/**
 * Latency statistics from exact samples: nearest-rank percentiles over the sorted samples
 * (no interpolation, no binning, so p99.9 of 1000 samples is the largest but one).
 * @module
 */

/** A latency summary in milliseconds. */
export interface LatencySummary {
  readonly count: number;
  readonly min: number;
  readonly mean: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
}

/** Samples sorted ascending (a new array; NaN is rejected). */
export function sortedSamples(samples: readonly number[]): number[] {
  for (const x of samples) if (Number.isNaN(x)) throw new RangeError('latency sample is NaN');
  return Float64Array.from(samples)
    .sort()
    .reduce<number[]>((out, x) => (out.push(x), out), []);
}

/**
 * The nearest-rank percentile of ascending `sorted` samples: the smallest sample such that
 * at least `p` percent of the samples are less than or equal to it.
 *
 * @param sorted - samples in ascending order (see {@link sortedSamples})
 * @param p - the percentile, 0..100 (0 gives the minimum, 100 the maximum)
 * @example
 * ```ts
 * percentile([1, 2, 3, 4], 50); // 2
 * ```
 */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) throw new RangeError('percentile of no samples');
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile must be within 0..100, got ${p}`);
  // p/100*n in floating point can land just above an integer (99.9/100*1000 = 999.0000000000001):
  // round to 12 significant digits before taking the ceiling.
  const rank = Math.ceil(Number(((p * sorted.length) / 100).toPrecision(12)));
  return sorted[Math.max(0, rank - 1)]!;
}

/** Summarise latency samples (ms). */
export function summarize(samples: readonly number[]): LatencySummary {
  const s = sortedSamples(samples);
  let sum = 0;
  for (const x of s) sum += x;
  return {
    count: s.length,
    min: percentile(s, 0),
    mean: sum / s.length,
    p50: percentile(s, 50),
    p90: percentile(s, 90),
    p99: percentile(s, 99),
    p999: percentile(s, 99.9),
    max: percentile(s, 100),
  };
}

/**
 * Points of the latency distribution for the chart: the latency at each percentile of a
 * fixed ladder (0 .. 99.99), so distributions of different sample counts line up.
 */
export function distribution(samples: readonly number[]): { percentile: number; ms: number }[] {
  const s = sortedSamples(samples);
  const ladder = [
    0, 10, 20, 30, 40, 50, 60, 70, 75, 80, 85, 90, 92.5, 95, 97, 98, 99, 99.5, 99.9, 99.99, 100,
  ];
  return ladder.map((p) => ({ percentile: p, ms: percentile(s, p) }));
}
