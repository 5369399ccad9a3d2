import { describe, it, expect } from 'vitest';
import { HistoryRecorder, type Value } from '../src/history.js';
import { checkLocks } from '../src/checkers/lock.js';
import { checkElection } from '../src/checkers/election.js';
import { checkSet } from '../src/checkers/set.js';

/** A recorder with helpers that name operations by a label. */
function script() {
  const h = new HistoryRecorder(() => 0);
  const ids = new Map<string, { id: number; process: string; op: string }>();
  return {
    records: h.records,
    invoke(label: string, process: string, op: string, value: Value) {
      ids.set(label, { id: h.invoke(process, op, value), process, op });
    },
    complete(label: string, outcome: 'ok' | 'fail' | 'unknown', value: Value = null) {
      const o = ids.get(label)!;
      h.complete(o.id, o.process, o.op, outcome, value);
    },
    event(event: string, value: Value, process?: string) {
      h.event(event, value, process);
    },
  };
}

describe('the lock checker', () => {
  function acquire(
    s: ReturnType<typeof script>,
    label: string,
    p: string,
    grant: string,
    token: string,
  ) {
    s.invoke(label, p, 'acquire', { name: 'L' });
    s.complete(label, 'ok', { grant, token });
  }
  function release(
    s: ReturnType<typeof script>,
    label: string,
    p: string,
    grant: string,
    outcome: 'ok' | 'fail' | 'unknown' = 'ok',
  ) {
    s.invoke(label, p, 'release', { name: 'L', grant, token: '0' });
    s.complete(label, outcome);
  }

  it('accepts hand-overs through release, signal loss and process death', () => {
    const s = script();
    acquire(s, 'a1', 'a', 'g1', '10');
    s.event('fenced-write', { name: 'L', grant: 'g1', token: '10', accepted: true }, 'a');
    release(s, 'r1', 'a', 'g1');
    acquire(s, 'b1', 'b', 'g2', '11');
    s.event('lost', { name: 'L', grant: 'g2', token: '11', reason: 'quorum-lost' }, 'b');
    s.event('fenced-write', { name: 'L', grant: 'g2', token: '11', accepted: true }, 'b');
    acquire(s, 'c1', 'c', 'g3', '12');
    s.event('crash', { process: 'c' });
    acquire(s, 'a2', 'a', 'g4', '13');
    s.event('fenced-write', { name: 'L', grant: 'g4', token: '13', accepted: true }, 'a');
    // the lost holder writes late: refused, and it no longer believed it held the lock
    s.event('fenced-write', { name: 'L', grant: 'g2', token: '11', accepted: false }, 'b');
    s.event('holders', { name: 'L', holders: ['g4'] });
    const v = checkLocks(s.records);
    expect(v.anomalies).toEqual([]);
    expect(v.valid).toBe(true);
    expect(v.stats.grants).toBe(4);
  });

  it('finds two holders at once, with the window of both grants', () => {
    const s = script();
    acquire(s, 'a1', 'a', 'g1', '10');
    acquire(s, 'b1', 'b', 'g2', '11');
    release(s, 'r1', 'a', 'g1');
    const v = checkLocks(s.records);
    expect(v.valid).toBe(false);
    expect(v.anomalies.map((a) => a.kind)).toEqual(['mutual-exclusion']);
    expect(v.anomalies[0]!.window.map((r) => r.kind)).toEqual([
      'invoke',
      'complete',
      'invoke',
      'complete',
      'invoke',
    ]);
  });

  it('an unacknowledged release still counts as held until it is invoked, and a timed-out acquire holds nothing', () => {
    const s = script();
    s.invoke('a1', 'a', 'acquire', { name: 'L' });
    s.complete('a1', 'fail');
    acquire(s, 'b1', 'b', 'g2', '11');
    release(s, 'r2', 'b', 'g2', 'unknown');
    acquire(s, 'c1', 'c', 'g3', '12');
    expect(checkLocks(s.records).valid).toBe(true);
  });

  it('finds a token granted twice; an older token handed out late (a resumed process) is for the resource to refuse', () => {
    const s = script();
    acquire(s, 'a1', 'a', 'g1', '10');
    release(s, 'r1', 'a', 'g1');
    acquire(s, 'b1', 'b', 'g2', '10');
    const v = checkLocks(s.records);
    expect(v.anomalies.map((a) => a.kind)).toEqual(['token-order']);
    const t = script();
    acquire(t, 'a1', 'a', 'g1', '20');
    t.event('fenced-write', { name: 'L', grant: 'g1', token: '20', accepted: true }, 'a');
    release(t, 'r1', 'a', 'g1');
    acquire(t, 'b1', 'b', 'g0', '10'); // committed earlier, handed out on resume
    t.event('lost', { name: 'L', grant: 'g0', token: '10', reason: 'quorum-lost' }, 'b');
    t.event('fenced-write', { name: 'L', grant: 'g0', token: '10', accepted: false }, 'b');
    expect(checkLocks(t.records).anomalies).toEqual([]);
  });

  it('finds a holder fenced out while it still held the lock', () => {
    const s = script();
    acquire(s, 'a1', 'a', 'g1', '10');
    s.event('fenced-write', { name: 'L', grant: 'gX', token: '20', accepted: true }, 'x');
    s.event('fenced-write', { name: 'L', grant: 'g1', token: '10', accepted: false }, 'a');
    const v = checkLocks(s.records);
    expect(v.anomalies.map((a) => a.kind)).toEqual(['fenced-out']);
  });

  it('finds a released grant still listed as a holder', () => {
    const s = script();
    acquire(s, 'a1', 'a', 'g1', '10');
    release(s, 'r1', 'a', 'g1');
    s.event('holders', { name: 'L', holders: ['g1'] });
    expect(checkLocks(s.records).anomalies.map((a) => a.kind)).toEqual(['release']);
  });
});

describe('the election checker', () => {
  function win(
    s: ReturnType<typeof script>,
    label: string,
    p: string,
    grant: string,
    term: string,
  ) {
    s.invoke(label, p, 'campaign', { name: 'E' });
    s.complete(label, 'ok', { grant, term, owner: p });
  }
  const observe = (term: string, leader: string | null, stale = false) => ({
    name: 'E',
    term,
    leader,
    stale,
  });

  it('accepts leaders that stop before the next term', () => {
    const s = script();
    win(s, 'a', 'a', 'c1', '1');
    s.event('observe', observe('1', 'a'), 'r1');
    s.event('lost', { name: 'E', grant: 'c1', term: '1', reason: 'quorum-lost' }, 'a');
    s.event('observe', observe('1', 'a', true), 'r3'); // stale: not counted
    s.event('observe', observe('2', 'b'), 'r1');
    win(s, 'b', 'b', 'c2', '2');
    s.invoke('rb', 'b', 'resign', { name: 'E', grant: 'c2', term: '2' });
    s.complete('rb', 'ok');
    s.event('observe', observe('3', 'a'), 'r2');
    win(s, 'a2', 'a', 'c3', '3');
    const v = checkElection(s.records);
    expect(v.anomalies).toEqual([]);
  });

  it('a leadership handed out already lost (a process resumed late) takes no part; two leaderships believed at once do', () => {
    const s = script();
    win(s, 'b', 'b', 'c2', '2');
    win(s, 'a', 'a', 'c1', '1'); // acknowledged after term 2 began...
    s.event('lost', { name: 'E', grant: 'c1', term: '1', reason: 'at election' }, 'a'); // ...already lost
    expect(checkElection(s.records).anomalies).toEqual([]);
    const t = script();
    win(t, 'b', 'b', 'c2', '2');
    win(t, 'a', 'a', 'c1', '1');
    t.event('lost', { name: 'E', grant: 'c1', term: '1', reason: 'quorum-lost' }, 'a');
    expect(
      checkElection(t.records)
        .anomalies.map((a) => a.kind)
        .sort(),
    ).toEqual(['abort-before-next-term', 'term-order']);
  });

  it('finds two leaders of one term', () => {
    const s = script();
    win(s, 'a', 'a', 'c1', '1');
    s.event('crash', { process: 'a' });
    s.event('observe', observe('1', 'b'), 'r2');
    expect(checkElection(s.records).anomalies.map((a) => a.kind)).toEqual(['one-leader-per-term']);
  });

  it('finds terms that go down, for a candidate and for an observer', () => {
    const s = script();
    win(s, 'a', 'a', 'c1', '5');
    s.event('crash', { process: 'a' });
    win(s, 'b', 'b', 'c2', '4');
    s.event('crash', { process: 'b' });
    expect(checkElection(s.records).anomalies.map((a) => a.kind)).toEqual(['term-order']);
    const t = script();
    t.event('observe', observe('5', 'a'), 'r1');
    t.event('observe', observe('4', 'b'), 'r1');
    expect(checkElection(t.records).anomalies.map((a) => a.kind)).toEqual(['term-order']);
  });

  it('finds a leader whose signal had not aborted when a higher term started', () => {
    const s = script();
    win(s, 'a', 'a', 'c1', '1');
    s.event('observe', observe('2', 'b'), 'r2');
    s.event('lost', { name: 'E', grant: 'c1', term: '1', reason: 'quorum-lost' }, 'a');
    const v = checkElection(s.records);
    expect(v.anomalies.map((a) => a.kind)).toEqual(['abort-before-next-term']);
    expect(v.anomalies[0]!.window.map((r) => r.kind)).toEqual([
      'invoke',
      'complete',
      'event',
      'event',
    ]);
  });
});

describe('the set checker', () => {
  function add(s: ReturnType<typeof script>, el: number, outcome: 'ok' | 'fail' | 'unknown') {
    s.invoke(`add${el}`, 'p', 'add', { element: el });
    s.complete(`add${el}`, outcome);
  }
  function read(s: ReturnType<typeof script>, els: number[]) {
    s.invoke('read', 'q', 'read', null);
    s.complete('read', 'ok', els);
  }

  it('accepts a final read with every acknowledged add, and unknown ones either way', () => {
    const s = script();
    add(s, 1, 'ok');
    add(s, 2, 'unknown');
    add(s, 3, 'unknown');
    add(s, 4, 'fail');
    read(s, [1, 3]);
    expect(checkSet(s.records).valid).toBe(true);
  });

  it('finds a lost add, a phantom, a failed add that was applied, and a missing final read', () => {
    const s = script();
    add(s, 1, 'ok');
    add(s, 2, 'fail');
    read(s, [2, 9]);
    expect(
      checkSet(s.records)
        .anomalies.map((a) => a.kind)
        .sort(),
    ).toEqual(['failed-add-applied', 'lost-add', 'phantom']);
    const t = script();
    add(t, 1, 'ok');
    expect(checkSet(t.records).anomalies.map((a) => a.kind)).toEqual(['no-final-read']);
  });
});
