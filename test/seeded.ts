/**
 * The one convention of every seeded (property-based) test in the repository:
 *
 * - `CPGKIT_SEED=N`: the fast-check seed (each test has a fixed default, so a plain run is
 *   the same every time);
 * - `CPGKIT_RUNS=N`: how many cases to run;
 * - `CPGKIT_REPLAY='[...]'`: run one case only, the counterexample as fast-check prints it
 *   (the property's arguments as a JSON array, without the `__proto__:null` parts).
 *
 * A campaign that numbers its schedules itself instead of using fast-check (the Jepsen
 * campaign, test/jepsen) reads `CPGKIT_SEED=N` as "run schedule N alone", and `CPGKIT_RUNS`.
 *
 * On failure fast-check prints the seed, the path and the counterexample. Older per-package
 * names (`CPGKIT_RANDOM_SEED`, `LOCKS_SCHEDULE`, ...) still work: each test passes them as
 * `legacy` names.
 * @module
 */

function fromEnv(names: readonly string[]): string | undefined {
  for (const name of names) {
    const v = process.env[name];
    if (v !== undefined && v !== '') return v;
  }
  return undefined;
}

/** The fast-check seed: `CPGKIT_SEED`, or the first legacy variable set, or `fallback`. */
export function seedFromEnv(fallback: number, ...legacy: string[]): number {
  const v = fromEnv(['CPGKIT_SEED', ...legacy]);
  return v === undefined ? fallback : Number(v);
}

/** The number of runs: `CPGKIT_RUNS`, or the first legacy variable set, or `fallback`. */
export function runsFromEnv(fallback: number, ...legacy: string[]): number {
  const v = fromEnv(['CPGKIT_RUNS', ...legacy]);
  return v === undefined ? fallback : Number(v);
}

/** The counterexample to replay (`CPGKIT_REPLAY`, parsed), or `undefined`. */
export function replayFromEnv<T extends unknown[]>(): T | undefined {
  const v = fromEnv(['CPGKIT_REPLAY']);
  return v === undefined ? undefined : (JSON.parse(v) as T);
}
