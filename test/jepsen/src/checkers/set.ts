/**
 * The set workload's checker: clients add unique elements (`add` `{ element }`), and a final
 * `read` returns every element (`[elements]`).
 *
 * Properties:
 * - `lost-add`: every acknowledged add is in the final read;
 * - `phantom`: every element in the final read was sent by some add;
 * - `failed-add-applied`: no add that failed (certainly not applied) is in the final read.
 * @module
 */
import { operations, type HistoryRecord, type Operation } from '../history.js';
import { windowOf, type Anomaly, type Verdict } from './verdict.js';

/** Check a set history. */
export function checkSet(records: readonly HistoryRecord[]): Verdict {
  const ops = operations(records);
  const reads = ops.filter((o) => o.op === 'read' && o.outcome === 'ok');
  const final = reads.at(-1);
  if (final === undefined) {
    return {
      checker: 'set',
      valid: false,
      anomalies: [{ kind: 'no-final-read', message: 'no final read succeeded', window: [] }],
      stats: { adds: ops.filter((o) => o.op === 'add').length },
    };
  }
  const seen = new Set((final.output as (string | number)[]).map(String));
  const adds = new Map<string, Operation>();
  for (const o of ops)
    if (o.op === 'add') adds.set(String((o.input as { element: string }).element), o);
  const anomalies: Anomaly[] = [];
  for (const [el, o] of adds) {
    if (o.outcome === 'ok' && !seen.has(el) && o.complete < final.invoke) {
      anomalies.push({
        kind: 'lost-add',
        message: `element ${el} was acknowledged (op ${o.id}) and is not in the final read`,
        window: windowOf(records, new Set([o.id, final.id])),
      });
    }
    if (o.outcome === 'fail' && seen.has(el)) {
      anomalies.push({
        kind: 'failed-add-applied',
        message: `element ${el} failed (${o.error ?? '?'}, op ${o.id}) but is in the final read`,
        window: windowOf(records, new Set([o.id, final.id])),
      });
    }
  }
  for (const el of seen) {
    if (!adds.has(el)) {
      anomalies.push({
        kind: 'phantom',
        message: `element ${el} is in the final read but was never sent`,
        window: windowOf(records, new Set([final.id])),
      });
    }
  }
  const count = (outcome: string): number =>
    [...adds.values()].filter((o) => o.outcome === outcome).length;
  return {
    checker: 'set',
    valid: anomalies.length === 0,
    anomalies,
    stats: {
      adds: adds.size,
      ok: count('ok'),
      fail: count('fail'),
      unknown: count('unknown'),
      final: seen.size,
    },
  };
}
