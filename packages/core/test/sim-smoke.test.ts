import { describe, it, expect } from 'vitest';
import { MemoryCluster } from '../src/testing.js';
import type { GroupEvent } from '../src/types.js';

const enc = new TextEncoder();
const dec = new TextDecoder();

describe('MemoryCluster smoke', () => {
  it('joins, sends, delivers in one order', async () => {
    const cluster = new MemoryCluster({ nodes: 3, seed: 7 });
    const a = cluster.transport(1);
    const b = cluster.transport(2);
    const logA: string[] = [];
    const logB: string[] = [];
    const rec = (log: string[]) => (e: GroupEvent) => {
      if (e.type === 'message') log.push(`m ${e.sender.nodeid} ${dec.decode(e.data)}`);
      else if (e.type === 'membership')
        log.push(
          `c ${e.members.length} +${e.joined.map((j) => j.reason)} -${e.left.map((l) => l.reason)}`,
        );
      else log.push(e.type);
    };
    a.on('message', rec(logA));
    a.on('membership', rec(logA));
    b.on('message', rec(logB));
    b.on('membership', rec(logB));
    await a.join('g');
    await b.join('g');
    void a.send(enc.encode('x1'));
    void b.send(enc.encode('y1'));
    await a.send([enc.encode('x2'), enc.encode('x3')]);
    await cluster.settle();
    const msgs = (l: string[]) => l.filter((s) => s.startsWith('m '));
    expect(msgs(logA)).toEqual(msgs(logB));
    expect(msgs(logA)).toHaveLength(4);
    cluster.partition([1], [2, 3]);
    await cluster.settle();
    expect(a.members()).toHaveLength(1);
    expect(b.members()).toHaveLength(1);
    cluster.heal();
    await cluster.settle();
    expect(a.members()).toHaveLength(2);
    await a.close();
    await b.close();
  });
});
