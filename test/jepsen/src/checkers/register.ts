/**
 * The register workload's checker: a key-value store of registers with read, write and
 * compare-and-set, checked for linearizability key by key (linearizability is compositional:
 * a history is linearizable iff each object's sub-history is).
 *
 * Operations (inputs and outputs as the history stores them):
 * - `read` `{ key }` -> the value, or `null` when absent;
 * - `write` `{ key, value }` -> `null`;
 * - `cas` `{ key, from, to }` -> `{ applied }`: set `to` if the value is `from`.
 * @module
 */
import { operations, type HistoryRecord, type Operation, type Value } from '../history.js';
import { checkLinearizable, type Model } from './linearizable.js';
import { windowOf, type Anomaly, type Verdict } from './verdict.js';

type Register = Value;

function keyOf(op: Operation): string {
  return String((op.input as { key: string }).key);
}

/** The sequential register (`null`: absent). */
export const registerModel: Model<Register> = {
  init: null,
  step(state, op) {
    const input = op.input as { key: string; value?: Value; from?: Value; to?: Value };
    switch (op.op) {
      case 'read':
        return JSON.stringify(op.output) === JSON.stringify(state) ? state : undefined;
      case 'write':
        return input.value ?? null;
      case 'cas': {
        const holds = JSON.stringify(input.from) === JSON.stringify(state);
        if (op.outcome === 'unknown') return holds ? (input.to ?? null) : state;
        const applied = (op.output as { applied: boolean }).applied;
        if (applied !== holds) return undefined;
        return applied ? (input.to ?? null) : state;
      }
      default:
        throw new RangeError(`register model: unknown operation '${op.op}'`);
    }
  },
  hash: (s) => JSON.stringify(s),
  show: (s) => JSON.stringify(s),
};

/** Check a register history for linearizability, key by key. */
export function checkRegister(records: readonly HistoryRecord[]): Verdict {
  const ops = operations(records).filter(
    (o) => o.outcome !== 'fail' && !(o.op === 'read' && o.outcome !== 'ok'),
  );
  const byKey = new Map<string, Operation[]>();
  for (const o of ops) {
    const k = keyOf(o);
    let list = byKey.get(k);
    if (list === undefined) byKey.set(k, (list = []));
    list.push(o);
  }
  const anomalies: Anomaly[] = [];
  let explored = 0;
  let undecided = 0;
  for (const [key, list] of [...byKey].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const r = checkLinearizable(registerModel, list);
    explored += r.explored;
    if (r.ok === true) continue;
    if (r.ok === 'unknown') {
      undecided++;
      continue;
    }
    // the window: the write that set the state the search got stuck in, the blocked
    // operation, and every operation that could have come before it
    const lastWrite = [...r.order].reverse().find((o) => o.op !== 'read');
    const ids = new Set([r.blocked.id, ...r.candidates.map((o) => o.id)]);
    if (lastWrite !== undefined) ids.add(lastWrite.id);
    anomalies.push({
      kind: 'linearizable',
      message:
        `key '${key}': after ${r.order.length} operations linearized (value ${registerModel.show(r.state)}), ` +
        `${describe(r.blocked)} cannot take effect, nor can any of the ${r.candidates.length} operations that could come before it`,
      window: windowOf(records, ids),
    });
  }
  return {
    checker: 'register (linearizability)',
    valid: anomalies.length === 0 && undecided === 0,
    anomalies:
      undecided > 0
        ? [
            ...anomalies,
            { kind: 'undecided', message: `${undecided} key(s) too large to decide`, window: [] },
          ]
        : anomalies,
    stats: { operations: ops.length, keys: byKey.size, explored },
  };
}

function describe(o: Operation): string {
  return `${o.process} ${o.op} ${JSON.stringify(o.input)} -> ${JSON.stringify(o.output)} (${o.outcome}, op ${o.id})`;
}
