/**
 * The lock workload's checker. The history holds, per client process:
 * - `acquire` `{ name }` -> `{ grant, token }` (ok: the client holds the lock from then on);
 * - `release` `{ name, grant, token }`;
 * - events `lost` `{ name, grant, token, reason }` (the lock's signal aborted),
 *   `fenced-write` `{ name, grant, token, accepted, highest }` (a write to the fenced resource),
 *   `crash` `{ process }` (the nemesis killed the client's process: it believes nothing after),
 *   `holders` `{ name, holders: [grant ids] }` (a replica's view of the holders, after healing).
 *
 * A client believes it holds a grant from its acquire's completion until the first of: it
 * invokes `release`, the signal aborts, its process is killed.
 *
 * Properties:
 * - `mutual-exclusion`: no two acknowledged grants of one name are believed at once;
 * - `token-order`: distinct grants have distinct tokens; the tokens the fenced resource
 *   accepted never go down (not an order of acknowledgements: a process resumed after a pause
 *   hands out a grant committed before newer ones, with its older token, which fencing refuses);
 * - `fenced-out`: the resource never refused a write from a holder that still believed it
 *   held the lock (that would mean a newer grant while it held it);
 * - `release`: a grant whose release was acknowledged is not listed as a holder afterwards.
 * @module
 */
import { operations, type EventRecord, type HistoryRecord, type Operation } from '../history.js';
import { windowOf, type Anomaly, type Verdict } from './verdict.js';

/** A believed hold of one grant. */
export interface Hold {
  readonly op: Operation;
  readonly name: string;
  readonly grant: string;
  readonly token: bigint;
  readonly start: number;
  /** Clock of the end of belief (Infinity: held to the end). */
  readonly end: number;
  readonly endRecord: HistoryRecord | undefined;
  /**
   * False when the client was handed a grant already lost (its `lost` event says
   * `at grant`/`at election`): it never acted on it, so it takes no part in the ordering checks.
   */
  readonly believed: boolean;
}

interface Grant {
  grant: string;
  token: string;
}

/** Believed intervals of acknowledged grants (`acquire` or `campaign` ops). */
export function believedHolds(
  records: readonly HistoryRecord[],
  ops: readonly Operation[],
  acquireOp: string,
  releaseOp: string,
  idOf: (out: Operation) => { name: string; grant: string; token: bigint },
): Hold[] {
  const holds: Hold[] = [];
  const events = records.filter((r): r is EventRecord => r.kind === 'event');
  for (const op of ops) {
    if (op.op !== acquireOp || op.outcome !== 'ok') continue;
    const { name, grant, token } = idOf(op);
    let end = Infinity;
    let endRecord: HistoryRecord | undefined;
    const consider = (t: number, r: HistoryRecord): void => {
      if (t > op.complete && t < end) {
        end = t;
        endRecord = r;
      }
    };
    for (const o of ops) {
      if (o.op === releaseOp && (o.input as { grant?: string }).grant === grant) {
        const inv = records.find((r) => r.kind === 'invoke' && r.id === o.id)!;
        consider(o.invoke, inv);
      }
    }
    for (const e of events) {
      const v = e.value as { grant?: string; process?: string } | null;
      if (e.event === 'lost' && v?.grant === grant) consider(e.t, e);
      if (e.event === 'crash' && v?.process === op.process) consider(e.t, e);
    }
    const believed = !(
      endRecord?.kind === 'event' &&
      endRecord.event === 'lost' &&
      String((endRecord.value as { reason?: string }).reason).startsWith('at ')
    );
    holds.push({ op, name, grant, token, start: op.complete, end, endRecord, believed });
  }
  return holds;
}

/** Pairs of holds of one name whose believed intervals overlap. */
export function overlaps(holds: readonly Hold[]): [Hold, Hold][] {
  const out: [Hold, Hold][] = [];
  const byName = new Map<string, Hold[]>();
  for (const h of holds) {
    if (!h.believed) continue;
    let l = byName.get(h.name);
    if (l === undefined) byName.set(h.name, (l = []));
    l.push(h);
  }
  for (const list of byName.values()) {
    list.sort((a, b) => a.start - b.start);
    for (let i = 0; i < list.length; i++) {
      for (let j = i + 1; j < list.length; j++) {
        if (list[j]!.start >= list[i]!.end) continue;
        out.push([list[i]!, list[j]!]);
      }
    }
  }
  return out;
}

function holdWindow(records: readonly HistoryRecord[], hs: readonly Hold[]): HistoryRecord[] {
  return windowOf(
    records,
    new Set(hs.map((h) => h.op.id)),
    hs.flatMap((h) => (h.endRecord?.kind === 'event' ? [h.endRecord] : [])),
  )
    .concat(hs.flatMap((h) => (h.endRecord?.kind === 'invoke' ? [h.endRecord] : [])))
    .sort((a, b) => a.t - b.t);
}

/** Check a lock history. */
export function checkLocks(records: readonly HistoryRecord[]): Verdict {
  const ops = operations(records);
  const anomalies: Anomaly[] = [];
  const holds = believedHolds(records, ops, 'acquire', 'release', (op) => {
    const g = op.output as unknown as Grant;
    return { name: (op.input as { name: string }).name, grant: g.grant, token: BigInt(g.token) };
  });

  for (const [a, b] of overlaps(holds)) {
    anomalies.push({
      kind: 'mutual-exclusion',
      message: `lock '${a.name}': ${a.op.process} (token ${a.token}) and ${b.op.process} (token ${b.token}) both held it`,
      window: holdWindow(records, [a, b]),
    });
  }

  // tokens: never reused by two grants. Not ordered by acknowledgement: a process stopped
  // (SIGSTOP) while its grant was committed hands the grant out when it resumes, after newer
  // grants elsewhere, with its older token; fencing is what makes that safe, and the resource
  // check below covers it.
  const byToken = new Map<string, Hold>();
  for (const h of holds) {
    const k = `${h.name}|${h.token}`;
    const p = byToken.get(k);
    if (p === undefined) {
      byToken.set(k, h);
      continue;
    }
    anomalies.push({
      kind: 'token-order',
      message: `lock '${h.name}': token ${h.token} was granted to ${p.op.process} and to ${h.op.process}`,
      window: holdWindow(records, [p, h]),
    });
  }

  // the fenced resource
  const writes = records.filter(
    (r): r is EventRecord => r.kind === 'event' && r.event === 'fenced-write',
  );
  const highest = new Map<string, { token: bigint; record: EventRecord }>();
  const holdOf = new Map(holds.map((h) => [h.grant, h]));
  for (const w of writes) {
    const v = w.value as { name: string; grant: string; token: string; accepted: boolean };
    const token = BigInt(v.token);
    const prev = highest.get(v.name);
    if (v.accepted) {
      if (prev !== undefined && token < prev.token) {
        anomalies.push({
          kind: 'token-order',
          message: `lock '${v.name}': the resource accepted token ${token} after ${prev.token}`,
          window: [prev.record, w],
        });
      }
      if (prev === undefined || token > prev.token) highest.set(v.name, { token, record: w });
      continue;
    }
    const h = holdOf.get(v.grant);
    if (h !== undefined && w.t > h.start && w.t < h.end) {
      anomalies.push({
        kind: 'fenced-out',
        message: `lock '${v.name}': the resource refused token ${token} from ${h.op.process}, which still held the lock (a newer token ${prev?.token ?? '?'} was accepted)`,
        window: [...holdWindow(records, [h]), ...(prev ? [prev.record] : []), w].sort(
          (a, b) => a.t - b.t,
        ),
      });
    }
  }

  // acknowledged releases free the lock
  const releasedAt = new Map<string, Operation>();
  for (const o of ops) {
    if (o.op === 'release' && o.outcome === 'ok')
      releasedAt.set((o.input as { grant: string }).grant, o);
  }
  for (const r of records) {
    if (r.kind !== 'event' || r.event !== 'holders') continue;
    const v = r.value as { name: string; holders: string[] };
    for (const g of v.holders) {
      const rel = releasedAt.get(g);
      if (rel !== undefined && rel.complete < r.t) {
        anomalies.push({
          kind: 'release',
          message: `lock '${v.name}': grant ${g} is still a holder after its release was acknowledged`,
          window: [...windowOf(records, new Set([rel.id])), r],
        });
      }
    }
  }

  return {
    checker: 'lock',
    valid: anomalies.length === 0,
    anomalies,
    stats: {
      grants: holds.length,
      acquires: ops.filter((o) => o.op === 'acquire').length,
      releases: releasedAt.size,
      fencedWrites: writes.length,
    },
  };
}
