import { describe, it, expect } from 'vitest';
import { ByName } from '../src/by-name.js';

interface Item {
  readonly kind: string;
  readonly name: string;
}

describe('ByName (requests by id and by what they are about)', () => {
  it('finds the entries of one group, follows replacements and deletions', () => {
    const m = new ByName<Item>((x) => `${x.kind}:${x.name}`);
    m.set('1', { kind: 'lock', name: 'a' });
    m.set('2', { kind: 'lock', name: 'a' });
    m.set('3', { kind: 'leadership', name: 'a' });
    expect([...m.group('lock:a').keys()]).toEqual(['1', '2']);
    expect([...m.group('leadership:a').keys()]).toEqual(['3']);
    expect(m.group('lock:b').size).toBe(0);
    // an id set again moves to its new group
    m.set('2', { kind: 'lock', name: 'b' });
    expect([...m.group('lock:a').keys()]).toEqual(['1']);
    expect([...m.group('lock:b').keys()]).toEqual(['2']);
    expect(m.size).toBe(3);
    // deleting while iterating a group is fine
    for (const [id] of m.group('lock:a')) expect(m.delete(id)).toBe(true);
    expect(m.delete('1')).toBe(false);
    expect(m.group('lock:a').size).toBe(0);
    expect(m.get('2')).toEqual({ kind: 'lock', name: 'b' });
    expect([...m.entries()].map(([id]) => id)).toEqual(['3', '2']);
    expect([...m.values()]).toHaveLength(2);
  });
});
