/** replica-set.ts: what a confchg and a retire do to the replica set `Q` (the pure rules). */
import { describe, it, expect } from 'vitest';
import type { MembershipEvent } from '@cpgkit/core';
import { cutOffBy, departedGone, retired } from '../src/replica-set.js';
import type { Image } from '../src/image.js';

type Left = MembershipEvent['left'][number];
const left = (reason: Left['reason']): Left => ({ nodeid: 9, pid: 9, reason });
const joinedOne: MembershipEvent['joined'] = [{ nodeid: 8, pid: 8, reason: 'join' }];
/** A proven lineage of `Q` = `replicas` (its last proven `Q` is itself). */
const proven = (replicas: string[], gone: string[] = []) => ({
  epoch: 1,
  settled: 1,
  replicas,
  gone,
  provenReplicas: replicas,
  provenGone: gone,
});
const q3 = proven(['a', 'b', 'c']);

describe('replica-set.ts: cutOffBy', () => {
  it('cuts off a primary side that nodes left with no majority of Q', () => {
    expect(cutOffBy({ joined: [], left: [left('nodedown')] }, true, q3, ['a'])).toBe('cut');
    expect(cutOffBy({ joined: [], left: [left('nodedown')] }, true, q3, ['a', 'b'])).toBe('keep');
  });

  it('keeps the flag for a process leaving, a non-primary state or an empty Q; clears it on a join', () => {
    expect(cutOffBy({ joined: [], left: [left('procdown')] }, true, q3, ['a'])).toBe('keep');
    expect(cutOffBy({ joined: [], left: [left('nodedown')] }, false, q3, ['a'])).toBe('keep');
    expect(cutOffBy({ joined: [], left: [left('nodedown')] }, true, proven([]), [])).toBe('keep');
    expect(cutOffBy({ joined: joinedOne, left: [left('nodedown')] }, true, q3, ['a'])).toBe(
      'clear',
    );
  });

  it('counts the gone replicas: half of Q plus the gone half is a majority', () => {
    const q2 = proven(['a', 'b'], ['b']);
    expect(cutOffBy({ joined: [], left: [left('nodedown')] }, true, q2, ['a'])).toBe('keep');
    expect(
      cutOffBy({ joined: [], left: [left('nodedown')] }, true, { ...q2, gone: [] }, ['a']),
    ).toBe('cut');
  });
});

describe('replica-set.ts: departedGone', () => {
  const d = (replica: string, reason: string | undefined, proven = true) => ({
    replica,
    reason,
    proven,
  });

  it('records replicas that died or left after proving they hold Q', () => {
    expect(departedGone([d('b', 'procdown'), d('c', 'leave')], true, q3, new Set())).toEqual([
      'b',
      'c',
    ]);
  });

  it('never a nodedown, an unproven replica, one outside Q, already gone, or still staying', () => {
    expect(departedGone([d('b', 'nodedown')], true, q3, new Set())).toEqual([]);
    expect(departedGone([d('b', 'procdown', false)], true, q3, new Set())).toEqual([]);
    expect(departedGone([d('x', 'procdown')], true, q3, new Set())).toEqual([]);
    expect(departedGone([d('b', 'procdown')], true, { ...q3, gone: ['b'] }, new Set())).toEqual([]);
    expect(departedGone([d('b', 'procdown')], true, q3, new Set(['b']))).toEqual([]);
  });

  it('nothing outside the quorate lineage', () => {
    expect(departedGone([d('b', 'procdown')], false, q3, new Set())).toEqual([]);
  });
});

describe('replica-set.ts: retired', () => {
  const img: Image<{ n: number }> = {
    epoch: 2,
    index: 7n,
    time: 0,
    members: [],
    knownNodes: [1, 2, 3],
    replicas: ['a', 'b', 'c'],
    gone: ['c'],
    settled: 2,
    provenReplicas: [],
    provenGone: [],
    state: { n: 1 },
  };

  it('drops the replica from Q and gone, and moves the index', () => {
    const next = retired(img, 'c')!;
    expect(next.replicas).toEqual(['a', 'b']);
    expect(next.gone).toEqual([]);
    expect(next.index).toBe(8n);
    expect(next.state).toBe(img.state);
    expect(next.epoch).toBe(2);
  });

  it('changes nothing for a replica outside Q, or the last one', () => {
    expect(retired(img, 'x')).toBeUndefined();
    expect(retired({ ...img, replicas: ['a'], gone: [] }, 'a')).toBeUndefined();
  });
});
