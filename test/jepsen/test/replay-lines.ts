/**
 * A schedule's records as lines, for comparing two runs of one seed: the faults and every
 * history, without what differs between runs by design (uuids are random).
 * @module
 */
import type { ScheduleResult } from '../src/sim/run.js';

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;

/** The records of `r` as JSON lines, uuids replaced by `uuid`. */
export function replayLines(r: ScheduleResult): string[] {
  return [r.faults, ...Object.values(r.histories)].flatMap((h) =>
    h.map((x) => JSON.stringify(x).replace(UUID, 'uuid')),
  );
}

/** The first record where two runs differ, or '' when they are the same. */
export function firstDifference(x: readonly string[], y: readonly string[]): string {
  const n = Math.max(x.length, y.length);
  for (let i = 0; i < n; i++) if (x[i] !== y[i]) return `record ${i}: ${x[i]} != ${y[i]}`;
  return '';
}
