import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { HistoryRecorder, type Value } from '../src/history.js';
import { checkRegister } from '../src/checkers/register.js';

/** A tiny script: `['i', id, process, op, input]` and `['c', id, outcome, output]` in order. */
type Step = ['i', number, string, string, Value] | ['c', number, 'ok' | 'fail' | 'unknown', Value];

function history(steps: Step[]) {
  const h = new HistoryRecorder(() => 0);
  const ids = new Map<number, { id: number; process: string; op: string }>();
  for (const s of steps) {
    if (s[0] === 'i') {
      const id = h.invoke(s[2], s[3], s[4]);
      ids.set(s[1], { id, process: s[2], op: s[3] });
    } else {
      const o = ids.get(s[1])!;
      h.complete(o.id, o.process, o.op, s[2], s[3]);
    }
  }
  return h.records;
}

const w = (n: number, p: string, value: Value, key = 'x'): Step => [
  'i',
  n,
  p,
  'write',
  { key, value },
];
const r = (n: number, p: string, key = 'x'): Step => ['i', n, p, 'read', { key }];
const cas = (n: number, p: string, from: Value, to: Value, key = 'x'): Step => [
  'i',
  n,
  p,
  'cas',
  { key, from, to },
];
const ok = (n: number, out: Value = null): Step => ['c', n, 'ok', out];
const unknown = (n: number): Step => ['c', n, 'unknown', null];
const fail = (n: number): Step => ['c', n, 'fail', null];

describe('the register checker (linearizability)', () => {
  it('accepts sequential and concurrent histories that have a linearization', () => {
    expect(checkRegister(history([w(1, 'a', 1), ok(1), r(2, 'b'), ok(2, 1)])).valid).toBe(true);
    // a read concurrent with a write may see the old or the new value
    expect(
      checkRegister(history([w(1, 'a', 1), r(2, 'b'), ok(2, null), ok(1), r(3, 'b'), ok(3, 1)]))
        .valid,
    ).toBe(true);
    expect(checkRegister(history([w(1, 'a', 1), r(2, 'b'), ok(2, 1), ok(1)])).valid).toBe(true);
    // keys are independent
    expect(
      checkRegister(
        history([w(1, 'a', 1, 'x'), ok(1), w(2, 'a', 2, 'y'), ok(2), r(3, 'b', 'x'), ok(3, 1)]),
      ).valid,
    ).toBe(true);
  });

  it('rejects a stale read after an acknowledged write, with the window that shows it', () => {
    const v = checkRegister(history([w(1, 'a', 1), ok(1), r(2, 'b'), ok(2, null)]));
    expect(v.valid).toBe(false);
    expect(v.anomalies[0]!.kind).toBe('linearizable');
    const ops = new Set(v.anomalies[0]!.window.map((x) => (x.kind === 'event' ? -1 : x.id)));
    expect(ops).toEqual(new Set([1, 2]));
  });

  it('rejects a value that comes back after being overwritten (the Knossos example)', () => {
    const v = checkRegister(
      history([w(1, 'a', 1), ok(1), w(2, 'b', 2), r(3, 'c'), ok(3, 2), ok(2), r(4, 'c'), ok(4, 1)]),
    );
    expect(v.valid).toBe(false);
  });

  it('lets an unknown write take effect at any later time, or never; a failed one never', () => {
    // took effect later, after the invoker gave up
    expect(checkRegister(history([w(1, 'a', 1), unknown(1), r(2, 'b'), ok(2, 1)])).valid).toBe(
      true,
    );
    // never took effect
    expect(checkRegister(history([w(1, 'a', 1), unknown(1), r(2, 'b'), ok(2, null)])).valid).toBe(
      true,
    );
    // took effect between two reads
    expect(
      checkRegister(
        history([w(1, 'a', 1), unknown(1), r(2, 'b'), ok(2, null), r(3, 'b'), ok(3, 1)]),
      ).valid,
    ).toBe(true);
    // but cannot take effect twice: 1, then 2 (acknowledged), then 1 again
    expect(
      checkRegister(
        history([
          w(1, 'a', 1),
          unknown(1),
          r(2, 'b'),
          ok(2, 1),
          w(3, 'c', 2),
          ok(3),
          r(4, 'b'),
          ok(4, 1),
        ]),
      ).valid,
    ).toBe(false);
    // nor before its invocation
    expect(checkRegister(history([r(2, 'b'), ok(2, 1), w(1, 'a', 1), unknown(1)])).valid).toBe(
      false,
    );
    // a failed write is certainly not applied
    expect(checkRegister(history([w(1, 'a', 1), fail(1), r(2, 'b'), ok(2, 1)])).valid).toBe(false);
  });

  it('checks compare-and-set results against the value', () => {
    expect(
      checkRegister(
        history([
          w(1, 'a', 1),
          ok(1),
          cas(2, 'b', 1, 3),
          ok(2, { applied: true }),
          r(3, 'c'),
          ok(3, 3),
        ]),
      ).valid,
    ).toBe(true);
    expect(
      checkRegister(history([w(1, 'a', 2), ok(1), cas(2, 'b', 1, 3), ok(2, { applied: true })]))
        .valid,
    ).toBe(false);
    expect(
      checkRegister(history([w(1, 'a', 1), ok(1), cas(2, 'b', 1, 3), ok(2, { applied: false })]))
        .valid,
    ).toBe(false);
    expect(
      checkRegister(history([w(1, 'a', 2), ok(1), cas(2, 'b', 1, 3), ok(2, { applied: false })]))
        .valid,
    ).toBe(true);
    // an unknown cas may have applied
    expect(
      checkRegister(
        history([w(1, 'a', 1), ok(1), cas(2, 'b', 1, 3), unknown(2), r(3, 'c'), ok(3, 3)]),
      ).valid,
    ).toBe(true);
    // a read sees a value only a cas whose compare could not hold would have set
    expect(
      checkRegister(
        history([w(1, 'a', 2), ok(1), cas(2, 'b', 1, 3), unknown(2), r(3, 'c'), ok(3, 3)]),
      ).valid,
    ).toBe(false);
  });

  it('accepts every history produced by a real register with random overlaps, and rejects it once a read returns a value never written', () => {
    interface Planned {
      p: number;
      start: number;
      len: number;
      point: number;
      kind: 'read' | 'write' | 'cas';
      unknown: boolean;
    }
    const planned = fc.array(
      fc.record({
        p: fc.nat(4),
        start: fc.nat(200),
        len: fc.integer({ min: 1, max: 40 }),
        point: fc.double({ min: 0, max: 1, noNaN: true }),
        kind: fc.constantFrom('read' as const, 'write' as const, 'cas' as const),
        unknown: fc.boolean(),
      }),
      { minLength: 1, maxLength: 40 },
    );
    fc.assert(
      fc.property(planned, fc.nat(), (plan: Planned[], pick) => {
        // each op takes effect at a point inside its interval; outputs come from that order
        const ops = plan.map((o, i) => ({
          ...o,
          i,
          end: o.start + o.len,
          at: o.start + o.point * o.len,
          value: i + 100,
        }));
        let reg: Value = null;
        const outputs = new Map<number, Value>();
        for (const o of [...ops].sort((a, b) => a.at - b.at)) {
          if (o.kind === 'read') outputs.set(o.i, reg);
          else if (o.kind === 'write') reg = o.value;
          else {
            const applied = reg === ops[(o.i + 1) % ops.length]!.value;
            outputs.set(o.i, { applied });
            if (applied) reg = o.value;
          }
        }
        const events: { t: number; step: Step }[] = [];
        for (const o of ops) {
          const input: Value =
            o.kind === 'read'
              ? { key: 'x' }
              : o.kind === 'write'
                ? { key: 'x', value: o.value }
                : { key: 'x', from: ops[(o.i + 1) % ops.length]!.value, to: o.value };
          events.push({ t: o.start, step: ['i', o.i, `p${o.p}`, o.kind, input] });
          const unknownWrite = o.unknown && o.kind !== 'read';
          events.push({
            t: o.end,
            step: unknownWrite ? unknown(o.i) : ok(o.i, outputs.get(o.i) ?? null),
          });
        }
        events.sort((a, b) => a.t - b.t || (a.step[0] === 'i' ? 1 : -1));
        const good = history(events.map((e) => e.step));
        expect(checkRegister(good).valid).toBe(true);
        const reads = ops.filter((o) => o.kind === 'read');
        if (reads.length > 0) {
          const bad = reads[pick % reads.length]!;
          const mutated = events.map((e) =>
            e.step[0] === 'c' && e.step[1] === bad.i ? ok(bad.i, 999_999) : e.step,
          );
          expect(checkRegister(history(mutated)).valid).toBe(false);
        }
      }),
      { numRuns: 300, seed: 20261204 },
    );
  });

  it('decides a long concurrent history quickly', () => {
    const steps: Step[] = [];
    let n = 0;
    // 5 processes, 600 operations, each overlapping its neighbours
    for (let round = 0; round < 120; round++) {
      const ids = [0, 1, 2, 3, 4].map(() => ++n);
      ids.forEach((id, p) => steps.push(p % 2 === 0 ? w(id, `p${p}`, id) : r(id, `p${p}`)));
      // the reads see the last write of the round before or any write of this round
      ids.forEach((id, p) => steps.push(p % 2 === 0 ? ok(id) : ok(id, ids[4])));
    }
    const started = performance.now();
    const v = checkRegister(history(steps));
    expect(v.valid).toBe(true);
    expect(performance.now() - started).toBeLessThan(5000);
  });
});
