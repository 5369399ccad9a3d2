/**
 * What a checker says about a history.
 * @module
 */
import type { HistoryRecord } from '../history.js';

/** One violation of a checker's property. */
export interface Anomaly {
  /** The property that broke (`linearizable`, `mutual-exclusion`, `lost-add`, ...). */
  readonly kind: string;
  /** What happened, in a sentence. */
  readonly message: string;
  /**
   * The smallest window of the history that shows it: the records involved, in order
   * (operations' invoke and complete records, events).
   */
  readonly window: readonly HistoryRecord[];
}

/** A checker's verdict on one history. */
export interface Verdict {
  readonly checker: string;
  readonly valid: boolean;
  readonly anomalies: readonly Anomaly[];
  /** Counts for the report (operations checked, states explored, ...). */
  readonly stats: Readonly<Record<string, number>>;
}

/** The invoke and complete records of the operations `ids`, and the events `events`, in order. */
export function windowOf(
  records: readonly HistoryRecord[],
  ids: ReadonlySet<number>,
  events: readonly HistoryRecord[] = [],
): HistoryRecord[] {
  const ev = new Set(events);
  return records.filter((r) => (r.kind === 'event' ? ev.has(r) : ids.has(r.id)));
}
