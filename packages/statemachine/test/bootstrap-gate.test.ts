/** bootstrap-gate.ts: when a fresh member may start a store from the initial state. */
import { describe, it, expect } from 'vitest';
import { BootstrapGate } from '../src/bootstrap-gate.js';

describe('bootstrap-gate.ts', () => {
  it('waits until every member of its first view said it holds nothing', () => {
    const g = new BootstrapGate(true, false);
    expect(g.mayBootstrap()).toBe(false); // no view yet
    g.joined(['1:1', '2:2']);
    expect(g.mayBootstrap()).toBe(false);
    expect(g.heard('1:1', true)).toBe(false);
    expect(g.heard('2:2', true)).toBe(true); // this one made it eligible
    expect(g.mayBootstrap()).toBe(true);
    expect(g.heard('3:3', true)).toBe(false); // already was
    g.joined(['4:4']); // later views do not change the first one
    expect(g.mayBootstrap()).toBe(true);
  });

  it('never once it saw a holder, lost its state, or may not bootstrap', () => {
    const seen = new BootstrapGate(true, false);
    seen.joined([]);
    expect(seen.mayBootstrap()).toBe(true);
    seen.heard('9:9', false);
    expect(seen.mayBootstrap()).toBe(false);
    const lost = new BootstrapGate(true, false);
    lost.joined([]);
    lost.stateLost();
    expect(lost.mayBootstrap()).toBe(false);
    const off = new BootstrapGate(false, false);
    off.joined([]);
    expect(off.mayBootstrap()).toBe(false);
  });

  it('forces until the first quorate round it takes part in', () => {
    const g = new BootstrapGate(true, true);
    expect(g.force).toBe(true);
    g.quorateRoundFinished();
    expect(g.force).toBe(false);
    expect(new BootstrapGate(true, false).force).toBe(false);
  });
});
