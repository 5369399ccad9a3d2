/**
 * The joint rule's pure parts (sync.ts, "Changing `Q`"): while an epoch is unproven, a round is
 * quorate, and the epoch proven, only with a majority of `Q` and of the last proven `Q`.
 */
import { describe, it, expect } from 'vitest';
import { decideFull, decideIncremental, jointMajority, type Summary } from '../src/sync.js';
import { provedBy } from '../src/acknowledgement.js';
import { keepsMajority, retired } from '../src/replica-set.js';
import { lastProven, parseMeta, jsonMetaOf } from '../src/image.js';
import { imageOf } from './helpers.js';

const q5 = ['a', 'b', 'c', 'd', 'e'];
const q3 = ['a', 'b', 'c'];

/** Member `r`'s summary (node = its letter's rank), by default a proven state of `Q` = q5. */
function summary(r: string, over: Partial<Summary> = {}): Summary {
  const n = r.charCodeAt(0) - 96;
  const s = {
    key: `${n}:1`,
    nodeid: n,
    pid: 1,
    incarnation: `i${r}`,
    replica: r,
    seq: 1,
    epoch: 1,
    settled: true,
    index: 10n,
    digest: 'd',
    primary: false,
    fresh: false,
    dirty: false,
    passive: false,
    bootstrap: false,
    force: false,
    quorate: true,
    ringNodes: 5,
    knownNodes: 5,
    replicas: q5,
    gone: [],
    time: 0,
    ...over,
  };
  return { provenReplicas: s.replicas, provenGone: s.gone, ...s };
}

/** B's state after {A, B, C} moved `Q` from q5 to q3, before that epoch is proven. */
const unproven = { epoch: 3, settled: false, replicas: q3, provenReplicas: q5 };

describe('the joint rule', () => {
  it('jointMajority: a majority of Q and of the last proven Q; the same set counts once', () => {
    const cur = { replicas: q3, gone: [] };
    const old = { replicas: q5, gone: [] };
    expect(jointMajority(['b', 'c'], cur, old)).toBe(false);
    expect(jointMajority(['a', 'b', 'c'], cur, old)).toBe(true);
    expect(jointMajority(['b', 'c', 'd'], cur, old)).toBe(true);
    expect(jointMajority(['a', 'd', 'e'], cur, old)).toBe(false);
    expect(jointMajority(['b', 'c'], cur, cur)).toBe(true);
    // exactly half with the other half gone counts for the last proven Q too
    expect(
      jointMajority(['a'], { replicas: ['a'], gone: [] }, { replicas: ['a', 'b'], gone: ['b'] }),
    ).toBe(true);
    expect(
      jointMajority(['a'], { replicas: ['a'], gone: [] }, { replicas: ['a', 'b'], gone: [] }),
    ).toBe(false);
  });

  it('decideFull: a leader with an unproven epoch needs a majority of its last proven Q as well', () => {
    // B and C of Q = {A, B, C}, the epoch that moved Q from five unproven: not quorate
    const bc = [summary('b', unproven), summary('c', unproven)];
    expect(decideFull(bc).quorate).toBe(false);
    // with D (a third of the five): quorate; the new state keeps the last proven Q
    const bcd = decideFull([...bc, summary('d')]);
    expect([bcd.quorate, bcd.leader?.replica, bcd.epoch]).toEqual([true, 'b', 4]);
    expect(bcd.replicas).toEqual(['b', 'c', 'd']);
    expect(bcd.provenReplicas).toEqual(q5);
    // once proven, Q alone counts, and it is the new round's last proven Q
    const proven = { epoch: 3, settled: true, replicas: q3 };
    const bc2 = decideFull([summary('b', proven), summary('c', proven)]);
    expect([bc2.quorate, bc2.provenReplicas]).toEqual([true, q3]);
  });

  it('decideFull: a forced round and a bootstrap start the last proven Q over', () => {
    const forced = decideFull([summary('b', { ...unproven, force: true }), summary('c', unproven)]);
    expect([forced.quorate, forced.forced, forced.provenReplicas]).toEqual([
      true,
      true,
      ['b', 'c'],
    ]);
    const fresh = { fresh: true, replicas: [], bootstrap: true, settled: true };
    const boot = decideFull([summary('a', fresh), summary('b', fresh)]);
    expect([boot.mode, boot.replicas, boot.provenReplicas]).toEqual([
      'bootstrap',
      ['a', 'b'],
      ['a', 'b'],
    ]);
  });

  it('decideIncremental: the component last proven Q counts as in decideFull', () => {
    const b = summary('b', unproven);
    const prev = decideFull([b, summary('c', { ...unproven, quorate: false })]);
    expect(prev.quorate).toBe(false);
    // C's node says quorate now: B and C are a majority of Q, not of the last proven Q
    const latest = new Map([b, summary('c', unproven)].map((s) => [s.key, s]));
    const synced = new Set(latest.keys());
    const old = { replicas: q5, gone: [] };
    const next = decideIncremental(prev, latest, synced, '3:1', 5, q3, [], old);
    expect(next === undefined || (next !== 'restart' && !next.quorate)).toBe(true);
    const byQ = decideIncremental(prev, latest, synced, '3:1', 5, q3, [], {
      replicas: q3,
      gone: [],
    });
    expect(byQ !== undefined && byQ !== 'restart' && byQ.quorate).toBe(true);
  });

  it('provedBy: the acks of a majority of Q and of the last proven Q', () => {
    const img = { replicas: q3, provenReplicas: q5, provenGone: [] };
    expect(provedBy(['b', 'c'], img)).toBe(false);
    expect(provedBy(['a', 'b', 'c'], img)).toBe(true);
    expect(provedBy(['b', 'c'], { ...img, provenReplicas: q3 })).toBe(true);
    expect(
      provedBy(['a'], { replicas: ['a'], provenReplicas: ['a', 'b'], provenGone: ['b'] }),
    ).toBe(true);
  });

  it('lastProven, keepsMajority and retired: P is Q once proven; a retire keeps P (it acks first)', () => {
    const img = imageOf(
      {},
      { epoch: 5, settled: 4, replicas: q3, gone: [], provenReplicas: q5, provenGone: [] },
    );
    expect(lastProven(img).replicas).toEqual(q5);
    expect(lastProven({ ...img, settled: 5 }).replicas).toEqual(q3);
    expect(keepsMajority(['b', 'c'], img)).toBe(false);
    expect(keepsMajority(['b', 'c'], { ...img, settled: 5 })).toBe(true);
    const next = retired(img, 'a')!;
    expect([next.replicas, next.provenReplicas]).toEqual([['b', 'c'], q5]);
  });

  it('parseMeta: an image written before the last proven Q was kept reads it as Q', () => {
    const img = imageOf(
      {},
      { epoch: 5, settled: 4, replicas: q3, gone: ['c'], provenReplicas: q5 },
    );
    const meta = jsonMetaOf(img) as Record<string, unknown>;
    expect(parseMeta(meta).provenReplicas).toEqual(q5);
    delete meta.provenReplicas;
    delete meta.provenGone;
    const old = parseMeta(meta);
    expect([old.provenReplicas, old.provenGone]).toEqual([q3, ['c']]);
  });
});
