import { describe, it, expect } from 'vitest';
import { WatchHistory, type HeldChange } from '../src/map/watch-history.js';

const all = (): boolean => true;

describe('WatchHistory (a ring of the last changes)', () => {
  it('holds the last `limit` changes in order across many wraps, and moves the floor past each dropped one', () => {
    const h = new WatchHistory(5);
    h.reset(0);
    expect(h.floor).toBe(1);
    for (let rev = 1; rev <= 23; rev++) {
      if (rev % 4 === 0) h.delete(`k${rev}`, rev);
      else h.set(`k${rev}`, { rev }, rev, rev - 1);
      const held = h.since(all);
      const first = Math.max(1, rev - 4);
      expect(held.map((c) => c.revision)).toEqual(
        Array.from({ length: rev - first + 1 }, (_, i) => first + i),
      );
      expect(h.floor).toBe(first);
    }
    const held = h.since(all);
    expect(held[0]).toEqual({
      type: 'set',
      key: 'k19',
      value: { rev: 19 },
      revision: 19,
      createRevision: 18,
    });
    expect(held[1]).toEqual({ type: 'delete', key: 'k20', revision: 20 });
  });

  it('filters with `keep`, and starts again on reset', () => {
    const h = new WatchHistory(3);
    h.reset(10);
    h.set('a/1', 1, 11, 11);
    h.set('b/1', 2, 12, 12);
    h.delete('a/1', 13);
    expect(h.since((c: HeldChange) => c.key.startsWith('a/')).map((c) => c.revision)).toEqual([
      11, 13,
    ]);
    h.reset(40);
    expect(h.since(all)).toEqual([]);
    expect(h.floor).toBe(41);
    h.set('c', 3, 41, 41);
    expect(h.since(all).map((c) => c.key)).toEqual(['c']);
  });

  it('with a limit of 0 holds nothing, and its floor follows every change', () => {
    const h = new WatchHistory(0);
    h.reset(0);
    h.set('a', 1, 1, 1);
    h.set('a', 2, 2, 1);
    expect(h.since(all)).toEqual([]);
    expect(h.floor).toBe(3);
  });
});
