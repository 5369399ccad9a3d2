/** phase.ts: the phase (status) of a replica from its quorum record and its round. */
import { describe, it, expect } from 'vitest';
import {
  CLOSED,
  isSynced,
  phaseOf,
  quorateInRing,
  writeRefusal,
  type Quorum,
} from '../src/phase.js';

const q = (local: boolean, decided: boolean, cutOff = false, viewRing?: bigint): Quorum => ({
  local,
  viewRing,
  decided,
  cutOff,
});

describe('phase.ts', () => {
  it('is ready only synced, with the node quorate and the round quorate', () => {
    expect(phaseOf(true, q(true, true))).toEqual({ kind: 'ready' });
    expect(phaseOf(true, q(false, true))).toEqual({ kind: 'minority', synced: true });
    expect(phaseOf(true, q(true, false))).toEqual({ kind: 'minority', synced: true });
    expect(phaseOf(false, q(true, true))).toEqual({ kind: 'syncing' });
    expect(phaseOf(false, q(false, false))).toEqual({ kind: 'syncing' });
  });

  it('says minority at once when cut off, synced or not', () => {
    expect(phaseOf(false, q(true, true, true))).toEqual({ kind: 'minority', synced: false });
    expect(phaseOf(true, q(true, true, true))).toEqual({ kind: 'minority', synced: true });
    expect(isSynced(phaseOf(false, q(true, true, true)))).toBe(false);
    expect(isSynced(phaseOf(true, q(true, false)))).toBe(true);
    expect(isSynced(CLOSED)).toBe(false);
  });

  it('refuses writes when closed, cut off, without node quorum once joined, or after a minority round', () => {
    const ready = phaseOf(true, q(true, true));
    expect(writeRefusal(ready, q(true, true), true)).toBeUndefined();
    expect(writeRefusal(CLOSED, q(true, true), true)).toBe('closed');
    expect(writeRefusal(phaseOf(true, q(true, true, true)), q(true, true, true), true)).toBe(
      'no-quorum',
    );
    // before the join the node's quorum is not known: a dispatch waits for the first sync
    const syncing = phaseOf(false, q(false, false));
    expect(writeRefusal(syncing, q(false, false), false)).toBeUndefined();
    expect(writeRefusal(syncing, q(false, false), true)).toBe('no-quorum');
    // syncing in a quorate node: waits; synced by a minority round: refused
    expect(writeRefusal(phaseOf(false, q(true, false)), q(true, false), true)).toBeUndefined();
    expect(writeRefusal(phaseOf(true, q(true, false)), q(true, false), true)).toBe('no-quorum');
  });

  it('counts the node quorate in a ring only when its latest view is of that ring', () => {
    const ring = { seq: 12n };
    // a view of the current ring
    expect(quorateInRing(q(true, false, false, 12n), ring)).toBe(true);
    expect(quorateInRing(q(false, false, false, 12n), ring)).toBe(false);
    // the previous ring's view (cut off, the new view not here yet) or a later ring's
    expect(quorateInRing(q(true, false, false, 11n), ring)).toBe(false);
    expect(quorateInRing(q(true, false, false, 13n), ring)).toBe(false);
    // a view, no ring yet
    expect(quorateInRing(q(true, false, false, 12n), undefined)).toBe(false);
    // a transport without views: the flag alone
    expect(quorateInRing(q(true, false), ring)).toBe(true);
    expect(quorateInRing(q(false, false), undefined)).toBe(false);
  });
});
