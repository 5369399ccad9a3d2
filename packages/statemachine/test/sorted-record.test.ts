/**
 * `SortedRecord` against a `Map` reference, over random histories of sets and deletes (at the
 * front, the middle and the end; keys with the same FNV hash, records of up to 100 members,
 * records rebuilt from plain objects): the same members in sorted order, the same JSON, the
 * same answers from `get` and `find` (its insertion points included).
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { SortedRecord } from '../src/sorted-record.js';

function fnv30(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 2;
}

/** Pairs of distinct keys with the same 30-bit FNV-1a hash (found by search: a birthday bound). */
function collisions(count: number): [string, string][] {
  const seen = new Map<number, string>();
  const out: [string, string][] = [];
  for (let i = 0; out.length < count; i++) {
    const k = `c${i}`;
    const h = fnv30(k);
    const other = seen.get(h);
    if (other !== undefined) out.push([other, k]);
    else seen.set(h, k);
  }
  return out;
}

const PAIRS = collisions(4);

function check(r: SortedRecord<number>, ref: Map<string, number>, probes: readonly string[]): void {
  const keys = [...ref.keys()].sort();
  expect(r.keys).toEqual(keys);
  expect(r.values).toEqual(keys.map((k) => ref.get(k)));
  expect(r.size).toBe(ref.size);
  expect(JSON.stringify(r)).toBe(
    JSON.stringify(Object.fromEntries(keys.map((k) => [k, ref.get(k)]))),
  );
  for (const p of probes) {
    expect(r.get(p)).toBe(ref.get(p));
    const at = keys.indexOf(p);
    const where = keys.filter((k) => k < p).length;
    expect(r.find(p)).toBe(at >= 0 ? at : -where - 1);
  }
}

describe('SortedRecord', () => {
  it('keys with the same hash are told apart', () => {
    expect(PAIRS.length).toBe(4);
    for (const [a, b] of PAIRS) {
      expect(a).not.toBe(b);
      expect(fnv30(a)).toBe(fnv30(b));
      let r = new SortedRecord<number>([], []).set(a, 1);
      expect(r.get(b)).toBeUndefined();
      r = r.set(b, 2);
      expect([r.get(a), r.get(b)]).toEqual([1, 2]);
      expect(r.delete(a).get(b)).toBe(2);
      expect(r.delete(a).get(a)).toBeUndefined();
    }
  });

  it('agrees with a Map over random histories, small and large records', () => {
    const pool = [
      ...PAIRS.flat(),
      ...Array.from({ length: 90 }, (_, i) => `k${i}`),
      '',
      'é',
      '\ud800',
      '__proto__',
      '10',
      '9',
    ];
    const op = fc.record({ del: fc.boolean(), key: fc.constantFrom(...pool), value: fc.integer() });
    fc.assert(
      fc.property(
        fc.array(op, { maxLength: 300, size: 'max' }),
        fc.boolean(),
        (ops, fromObject) => {
          const ref = new Map<string, number>();
          let r = new SortedRecord<number>([], []);
          for (const o of ops) {
            if (o.del) {
              ref.delete(o.key);
              r = r.delete(o.key);
            } else {
              ref.set(o.key, o.value);
              r = r.set(o.key, o.value);
            }
            if (fromObject) {
              // a record rebuilt from its JSON (no hashes yet), as a leaf read from a snapshot
              const plain = Object.create(null) as Record<string, number>;
              for (const [k, v] of ref) plain[k] = v;
              r = SortedRecord.from(plain);
            }
          }
          check(r, ref, pool);
        },
      ),
      { numRuns: 300, seed: 15 },
    );
  });

  it('a record that grows to 100 members and shrinks back still finds every key', () => {
    const ref = new Map<string, number>();
    let r = new SortedRecord<number>([], []);
    const keys = [...PAIRS.flat(), ...Array.from({ length: 100 }, (_, i) => `g${i}`)];
    for (const [i, k] of keys.entries()) {
      r = r.set(k, i);
      ref.set(k, i);
      check(r, ref, [k, 'absent', ...PAIRS.flat()]);
    }
    for (const k of keys.slice(0, 90)) {
      r = r.delete(k);
      ref.delete(k);
    }
    check(r, ref, keys);
    r = r.set('g0', 7);
    ref.set('g0', 7);
    check(r, ref, keys);
  });
});
