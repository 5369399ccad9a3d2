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

  it('waits for a long-lived member on every node of the ring that said it holds nothing', () => {
    // we are on node 4 (key 4:40) of a ring of 5; members on nodes 1 and 2 joined with us
    const g = new BootstrapGate(true, false);
    g.ringChanged([1, 2, 3, 4, 5]);
    g.joined(['1:10', '2:20'], '4:40');
    expect(g.heard('1:10', true, false)).toBe(false);
    expect(g.heard('2:20', true, false)).toBe(false); // first view done, nodes 3, 5 bare
    expect(g.mayBootstrap()).toBe(false);
    // a passive client on node 3 does not count for its node
    g.joined(['1:10', '2:20', '3:30'], '4:40');
    expect(g.heard('3:30', true, true)).toBe(false);
    expect(g.mayBootstrap()).toBe(false);
    g.joined(['1:10', '2:20', '3:30', '3:31', '5:50'], '4:40');
    expect(g.heard('3:31', true, false)).toBe(false);
    expect(g.heard('5:50', true, false)).toBe(true); // every node covered now
    // a member that said it holds nothing and then left does not cover its node any more
    g.joined(['1:10', '2:20', '3:30', '3:31'], '4:40');
    expect(g.mayBootstrap()).toBe(false);
    // the ring shrank to the nodes still covered (node 5 went down)
    g.ringChanged([1, 2, 3, 4]);
    expect(g.mayBootstrap()).toBe(true);
    // alone in a one-node ring
    const solo = new BootstrapGate(true, false);
    solo.joined([], '7:70');
    solo.ringChanged([7]);
    expect(solo.mayBootstrap()).toBe(true);
    solo.ringChanged([7, 8]);
    expect(solo.mayBootstrap()).toBe(false);
  });

  it("'alone' and 'force' start without a member on every node; a holder still stops them", () => {
    const alone = new BootstrapGate(true, false, true);
    alone.ringChanged([1, 2, 3]);
    alone.joined([], '1:10');
    expect(alone.mayBootstrap()).toBe(true);
    alone.heard('2:2', false, false);
    expect(alone.mayBootstrap()).toBe(false);
    const force = new BootstrapGate(true, true);
    force.ringChanged([1, 2, 3]);
    force.joined([], '1:10');
    expect(force.mayBootstrap()).toBe(true);
  });
});
