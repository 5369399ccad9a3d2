import { describe, it, expect } from 'vitest';
import { explain } from '../src/trace-analysis.js';
import { tagOf, taggedValue, type WorkerTrace } from '../src/trace.js';

function trace(partial: Partial<WorkerTrace>): WorkerTrace {
  return {
    pid: 1,
    applied: [],
    commits: [],
    stalls: [],
    gcs: [],
    cpuMs: { user: 0, system: 0 },
    elapsedMs: 0,
    ...partial,
  };
}

describe('tagged values', () => {
  it('carry their write number at the head, at the requested size', () => {
    const v = taggedValue(1234, 64);
    expect(v).toHaveLength(64);
    expect(tagOf(v)).toBe(1234);
    expect(tagOf('vvvv')).toBeUndefined();
    expect(tagOf(7)).toBeUndefined();
  });
});

describe('explain', () => {
  // write 0 is quick everywhere; write 1 waits for its ack, and node 3 stalled meanwhile
  const writes: [number, number, number][] = [
    [0, 0.1, 3],
    [10, 10.2, 60],
  ];
  const byNode = new Map<number, WorkerTrace>([
    [
      1,
      trace({
        applied: [
          [0, 5, 1.1],
          [1, 6, 11.2],
        ],
        commits: [
          [5, 2.5],
          [6, 59],
        ],
      }),
    ],
    [
      2,
      trace({
        applied: [
          [0, 5, 1.2],
          [1, 6, 57],
        ],
      }),
    ],
    [
      3,
      trace({
        applied: [
          [0, 5, 1.3],
          [1, 6, 58],
        ],
        stalls: [[12, 40]],
        gcs: [[20, 30, 2]],
      }),
    ],
  ]);

  it('splits each write into its steps on one clock', () => {
    const { writes: out } = explain(writes, byNode, 1);
    expect(out).toHaveLength(2);
    const [a, b] = out;
    expect(a!.total).toBeCloseTo(3);
    expect(a!.client).toBeCloseTo(0.1);
    expect(a!.ownDelivery).toBeCloseTo(1.0);
    expect(a!.remoteDelivery[0]).toBeCloseTo(1.1);
    expect(a!.ackWait).toBeCloseTo(1.4);
    expect(a!.ackPath).toBeCloseTo(1.3);
    expect(a!.resolve).toBeCloseTo(0.5);
    // write 1: the commit at 59 is the first whose index reaches 6
    expect(b!.ackWait).toBeCloseTo(47.8);
    expect(b!.ackPath).toBeCloseTo(2);
    expect(b!.stalledMs).toEqual([0, 0, 40]);
    expect(b!.gcMs).toEqual([0, 0, 30]);
  });

  it('blames the slowest writes on their longest step and the processes that stalled', () => {
    const { text } = explain(writes, byNode, 1);
    expect(text).toMatch(/ackWait \+stall n3 \+gc n3: 1/);
  });

  it('leaves steps out where a replica did not report the write', () => {
    const partial = new Map(byNode);
    partial.set(2, trace({}));
    partial.set(1, trace({ applied: [[0, 5, 1.1]] }));
    const { writes: out } = explain(writes, partial, 1);
    expect(out[1]!.ownDelivery).toBeUndefined();
    expect(out[1]!.ackWait).toBeUndefined();
    expect(out[1]!.remoteDelivery).toEqual([undefined, expect.closeTo(47.8, 5)]);
  });
});
