import { describe, it, expect } from 'vitest';
import {
  decideFull,
  decideIncremental,
  holdsMajority,
  pickLeader,
  replicaSet,
  type Summary,
} from '../src/sync.js';

/** A summary of member `n` (node n, pid 1, replica `r<n>`), holding state unless told. */
function summary(n: number, over: Partial<Summary> = {}): Summary {
  const s = {
    key: `${n}:1`,
    nodeid: n,
    pid: 1,
    incarnation: `i${n}`,
    replica: `r${n}`,
    seq: 1,
    epoch: 1,
    settled: true,
    index: 10n,
    digest: 'd',
    primary: true,
    fresh: false,
    dirty: false,
    passive: false,
    bootstrap: false,
    force: false,
    quorate: true,
    ringNodes: 3,
    knownNodes: 3,
    replicas: ['r1', 'r2', 'r3'],
    gone: [],
    time: 0,
    ...over,
  };
  // a proven state's last proven `Q` is its `Q`
  return { provenReplicas: s.replicas, provenGone: s.gone, ...s };
}

describe('sync.ts: the pure decision of a round', () => {
  it('holdsMajority: a strict majority of Q, or exactly half with the rest gone', () => {
    const q = ['a', 'b', 'c', 'd'];
    expect(holdsMajority(['a', 'b', 'c'], q)).toBe(true);
    expect(holdsMajority(['a', 'b'], q)).toBe(false);
    expect(holdsMajority(['a', 'b'], q, ['c', 'd'])).toBe(true);
    expect(holdsMajority(['a', 'b'], q, ['c'])).toBe(false);
    expect(holdsMajority(['x'], [])).toBe(true);
    expect(holdsMajority([], ['a', 'b'], ['a', 'b'])).toBe(false);
  });

  it('pickLeader: highest (epoch, index), then primary, then active, then the lowest member', () => {
    const a = summary(1, { index: 9n });
    const b = summary(2, { epoch: 2, index: 1n });
    expect(pickLeader([a, b])?.key).toBe('2:1');
    expect(pickLeader([summary(3), summary(2)])?.key).toBe('2:1');
    expect(pickLeader([summary(1, { primary: false }), summary(2)])?.key).toBe('2:1');
    expect(pickLeader([])).toBeUndefined();
  });

  it('decideFull: equal states need no transfer; a quorate round bumps the epoch and sets Q', () => {
    const d = decideFull([summary(2), summary(1), summary(3)]);
    expect(d.mode).toBe('none');
    expect(d.quorate).toBe(true);
    expect(d.epoch).toBe(2);
    expect(d.replicas).toEqual(['r1', 'r2', 'r3']);
    expect(d.participants.map((p) => p.key)).toEqual(['1:1', '2:1', '3:1']);
  });

  it('decideFull: a joiner and a stale member receive the newest state', () => {
    const d = decideFull([
      summary(1, { index: 12n, digest: 'x' }),
      summary(2),
      summary(4, { fresh: true, index: 0n, replica: 'r4' }),
    ]);
    expect(d.leader?.key).toBe('1:1');
    expect(d.mode).toBe('transfer');
    expect(d.targets).toEqual(['2:1', '4:1']);
    expect(d.replicas).toEqual(['r1', 'r2', 'r4']);
  });

  it('decideFull: one replica of three is a minority (no epoch bump, Q kept)', () => {
    const d = decideFull([summary(1)]);
    expect(d.quorate).toBe(false);
    expect(d.epoch).toBe(1);
    expect(d.replicas).toEqual(['r1', 'r2', 'r3']);
  });

  it('decideFull: a dirty replica is never the leader while a clean one is there', () => {
    const d = decideFull([summary(1, { dirty: true, index: 99n }), summary(2), summary(3)]);
    expect(d.leader?.key).toBe('2:1');
    expect(d.targets).toEqual(['1:1']);
  });

  it('decideFull: fresh members bootstrap only when one may, and only on quorate nodes', () => {
    const fresh = (n: number, over: Partial<Summary> = {}): Summary =>
      summary(n, { fresh: true, index: 0n, epoch: 0, replicas: [], knownNodes: 0, ...over });
    expect(decideFull([fresh(1), fresh(2)]).mode).toBe('nostate');
    const boot = decideFull([fresh(1, { bootstrap: true }), fresh(2)]);
    expect(boot.mode).toBe('bootstrap');
    expect(boot.epoch).toBe(1);
    expect(decideFull([fresh(1, { bootstrap: true, quorate: false }), fresh(2)]).mode).toBe(
      'nostate',
    );
  });

  it('decideIncremental: a late speaker with a newer state restarts the round', () => {
    const prev = decideFull([summary(1), summary(2)]);
    const latest = new Map([
      ['1:1', summary(1)],
      ['2:1', summary(2)],
      ['3:1', summary(3, { index: 50n })],
    ]);
    const synced = new Set(['1:1', '2:1']);
    expect(decideIncremental(prev, latest, synced, '3:1', 3, prev.replicas)).toBe('restart');
  });

  it('decideIncremental: a late speaker with an older state is a target; nothing new is undefined', () => {
    const prev = decideFull([summary(1), summary(2)]);
    const latest = new Map([
      ['1:1', summary(1)],
      ['2:1', summary(2)],
      ['3:1', summary(3, { index: 5n })],
    ]);
    const synced = new Set(['1:1', '2:1']);
    const d = decideIncremental(prev, latest, synced, '3:1', 3, prev.replicas);
    expect(d).not.toBe('restart');
    expect(d).not.toBeUndefined();
    const dec = d as Exclude<typeof d, 'restart' | undefined>;
    expect(dec.targets).toEqual(['3:1']);
    expect(dec.leader?.key).toBe('1:1');
    const again = decideIncremental(
      dec,
      latest,
      new Set(['1:1', '2:1', '3:1']),
      '2:1',
      3,
      dec.replicas,
    );
    expect(again).toBeUndefined();
  });

  it('replicaSet: distinct, sorted replica ids of active participants', () => {
    expect(
      replicaSet([
        summary(3),
        summary(1),
        summary(2, { passive: true }),
        summary(4, { replica: 'r1' }),
      ]),
    ).toEqual(['r1', 'r3']);
  });
});
