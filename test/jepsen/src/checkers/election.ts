/**
 * The election workload's checker. The history holds, per client process:
 * - `campaign` `{ name }` -> `{ grant, term, owner }` (ok: elected; `grant` is the campaign id);
 * - `resign` `{ name, grant, term }`;
 * - events `lost` `{ name, grant, term, reason }` (the leadership's signal aborted),
 *   `crash` `{ process }`, and `observe` `{ name, term, leader, stale }` (a replica's view of
 *   the leader changed; `leader` is the leader's incarnation or `null`).
 *
 * Properties:
 * - `one-leader-per-term`: the campaigns acknowledged with one term, and the non-stale
 *   observations of that term, all name the same leader;
 * - `term-order`: terms of acknowledged campaigns strictly increase in acknowledgement order;
 *   each replica's non-stale observations never see the term go down;
 * - `abort-before-next-term`: a leader stops believing (its signal aborts, or it resigns, or
 *   its process dies) before any replica observes (or a candidate is told of) a higher term.
 * @module
 */
import { operations, type EventRecord, type HistoryRecord } from '../history.js';
import { believedHolds, overlaps, type Hold } from './lock.js';
import { windowOf, type Anomaly, type Verdict } from './verdict.js';

interface Won {
  grant: string;
  term: string;
  owner: string;
}

/** Check an election history. */
export function checkElection(records: readonly HistoryRecord[]): Verdict {
  const ops = operations(records);
  const anomalies: Anomaly[] = [];
  const holds = believedHolds(records, ops, 'campaign', 'resign', (op) => {
    const w = op.output as unknown as Won;
    return { name: (op.input as { name: string }).name, grant: w.grant, token: BigInt(w.term) };
  });
  const observes = records.filter(
    (r): r is EventRecord => r.kind === 'event' && r.event === 'observe',
  );

  // one leader per term
  const leaderOf = new Map<string, { owner: string; record: HistoryRecord[] }>();
  const claim = (name: string, term: string, owner: string, rs: HistoryRecord[]): void => {
    const k = `${name}|${term}`;
    const prev = leaderOf.get(k);
    if (prev === undefined) {
      leaderOf.set(k, { owner, record: rs });
    } else if (prev.owner !== owner) {
      anomalies.push({
        kind: 'one-leader-per-term',
        message: `election '${name}': term ${term} has two leaders, ${prev.owner} and ${owner}`,
        window: [...prev.record, ...rs].sort((a, b) => a.t - b.t),
      });
    }
  };
  for (const h of holds) {
    const w = h.op.output as unknown as Won;
    claim(h.name, w.term, w.owner, windowOf(records, new Set([h.op.id])));
  }
  for (const o of observes) {
    const v = o.value as { name: string; term: string; leader: string | null; stale: boolean };
    if (!v.stale && v.leader !== null) claim(v.name, v.term, v.leader, [o]);
  }

  // terms increase
  const sorted = holds.filter((h) => h.believed).sort((a, b) => a.start - b.start);
  const lastByName = new Map<string, (typeof holds)[number]>();
  for (const h of sorted) {
    const p = lastByName.get(h.name);
    if (p !== undefined && h.token <= p.token) {
      anomalies.push({
        kind: 'term-order',
        message: `election '${h.name}': ${h.op.process} was elected in term ${h.token} after ${p.op.process} in term ${p.token}`,
        window: windowOf(records, new Set([p.op.id, h.op.id])),
      });
    }
    lastByName.set(h.name, h);
  }
  const lastSeen = new Map<string, EventRecord>();
  for (const o of observes) {
    const v = o.value as { name: string; term: string; stale: boolean };
    if (v.stale) continue;
    const k = `${o.process ?? ''}|${v.name}`;
    const p = lastSeen.get(k);
    if (p !== undefined && BigInt(v.term) < BigInt((p.value as { term: string }).term)) {
      anomalies.push({
        kind: 'term-order',
        message: `election '${v.name}': ${o.process ?? '?'} saw term ${v.term} after term ${(p.value as { term: string }).term}`,
        window: [p, o],
      });
    }
    lastSeen.set(k, o);
  }

  // a leader stops before a higher term starts: no two leaderships believed at once...
  const reported = new Set<Hold>();
  for (const [a, b] of overlaps(holds)) {
    const older = a.token < b.token ? a : b;
    reported.add(older);
    anomalies.push({
      kind: 'abort-before-next-term',
      message: `election '${a.name}': ${a.op.process} (term ${a.token}) and ${b.op.process} (term ${b.token}) both believed they led`,
      window: windowOf(
        records,
        new Set([a.op.id, b.op.id]),
        [a.endRecord, b.endRecord].filter((r): r is EventRecord => r?.kind === 'event'),
      ),
    });
  }
  // ...and none still believes once a replica observed a higher term
  for (const h of holds) {
    if (!h.believed || reported.has(h)) continue;
    let first: HistoryRecord | undefined;
    for (const o of observes) {
      const v = o.value as { name: string; term: string; stale: boolean };
      if (v.name === h.name && !v.stale && BigInt(v.term) > h.token && o.t > h.start) {
        first = o;
        break;
      }
    }
    if (first !== undefined && first.t < h.end) {
      anomalies.push({
        kind: 'abort-before-next-term',
        message: `election '${h.name}': ${h.op.process} still led term ${h.token} when a higher term started`,
        window: [
          ...windowOf(records, new Set([h.op.id])),
          first,
          ...(h.endRecord !== undefined ? [h.endRecord] : []),
        ].sort((a, b) => a.t - b.t),
      });
    }
  }

  return {
    checker: 'election',
    valid: anomalies.length === 0,
    anomalies,
    stats: {
      campaigns: ops.filter((o) => o.op === 'campaign').length,
      elected: holds.length,
      observations: observes.length,
    },
  };
}
