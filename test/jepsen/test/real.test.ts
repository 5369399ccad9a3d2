/**
 * The real-cluster campaign's pieces that need no cluster: merging records stamped on the
 * machine's clock, fault bands, the report and its chart, the nemesis's choices. The campaign
 * itself runs on the real cluster from .ci/run (`pnpm jepsen --real --time 100 --seed 14`).
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Random } from '@cpgkit/core/testing';
import { MergedHistory } from '../src/real/recorder.js';
import { faultBands } from '../src/real/timeline.js';
import { writeRealReport } from '../src/real/report.js';
import { RealNemesis } from '../src/real/nemesis.js';
import { Serves } from '../src/real/serves.js';
import type { RealResult } from '../src/real/run.js';
import { checkSet } from '../src/checkers/set.js';
import type { HistoryRecord } from '../src/history.js';

describe('MergedHistory', () => {
  it('orders records from several processes by their stamps, not by arrival, with ids unique per node', () => {
    const h = new MergedHistory();
    // node 2's invoke arrives after node 1's complete but happened before it
    h.add(1_000_000n, 1, {
      kind: 'invoke',
      id: 1,
      process: 'set.n1.0',
      op: 'add',
      value: { element: 1 },
    });
    h.add(3_000_000n, 1, {
      kind: 'complete',
      id: 1,
      process: 'set.n1.0',
      op: 'add',
      value: null,
      outcome: 'ok',
    });
    h.add(2_000_000n, 2, {
      kind: 'invoke',
      id: 1,
      process: 'set.n2.0',
      op: 'add',
      value: { element: 2 },
    });
    const rs = h.records(0n);
    expect(rs.map((r) => [r.t, r.kind, (r as { id?: number }).id, r.vt])).toEqual([
      [1, 'invoke', 10_000_001, 1],
      [2, 'invoke', 20_000_001, 2],
      [3, 'complete', 10_000_001, 3],
    ]);
  });
});

function fault(vt: number, t: number, fault: string, phase: string): HistoryRecord {
  return {
    kind: 'event',
    t,
    vt,
    process: 'nemesis',
    event: 'fault',
    value: { fault, phase, nodes: [1] },
  };
}

describe('faultBands', () => {
  it('pairs starts and ends, in seconds; a fault never ended lasts to the last record', () => {
    const bands = faultBands([
      fault(1000, 1, 'isolate', 'start'),
      fault(3500, 2, 'isolate', 'end'),
      fault(5000, 3, 'kill-serve', 'start'),
      {
        kind: 'event',
        t: 4,
        vt: 8000,
        process: 'nemesis',
        event: 'phase',
        value: { phase: 'heal' },
      },
    ]);
    expect(bands).toEqual([
      { fault: 'isolate', from: 1, to: 3.5 },
      { fault: 'kill-serve', from: 5, to: 8 },
    ]);
  });
});

describe('the real report', () => {
  function result(set: HistoryRecord[]): RealResult {
    const verdict = checkSet(set);
    return {
      seed: 7,
      nodes: 3,
      group: 'jepsen-7-1',
      timeMs: 10_000,
      wallMs: 20_000,
      faults: [fault(1000, 1, 'isolate', 'start'), fault(3000, 2, 'isolate', 'end')],
      histories: { register: [], set, lock: [], election: [] },
      verdicts: [verdict],
      valid: verdict.valid,
      faultCounts: { isolate: 1 },
      finals: { n1: { registers: {}, set: [1] } },
      convergedMs: 1500,
      logsDir: '/nowhere',
    };
  }
  const add = (t: number, id: number, el: number, kind: 'invoke' | 'complete'): HistoryRecord =>
    kind === 'invoke'
      ? { kind, t, vt: t * 500, id, process: 'set.n1.0', op: 'add', value: { element: el } }
      : { kind, t, vt: t * 500, id, process: 'set.n1.0', op: 'add', value: null, outcome: 'ok' };
  const read = (t: number, els: number[]): HistoryRecord[] => [
    { kind: 'invoke', t, vt: t * 500, id: 99, process: 'set.final.n1', op: 'read', value: null },
    {
      kind: 'complete',
      t: t + 1,
      vt: t * 500 + 10,
      id: 99,
      process: 'set.final.n1',
      op: 'read',
      value: els,
      outcome: 'ok',
    },
  ];

  it('writes the verdicts, the operations with latencies while faulted, the chart and the histories', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'jepsen-report-'));
    try {
      const r = result([add(1, 1, 1, 'invoke'), add(4, 1, 1, 'complete'), ...read(10, [1])]);
      const path = await writeRealReport(dir, r, {
        command: 'pnpm jepsen --real',
        opTimeout: 5000,
      });
      const md = await readFile(path, 'utf8');
      expect(md).toContain('verdict: **valid**');
      expect(md).toContain('CPGKIT_CLUSTER_NODES=3 pnpm jepsen --real --time 10 --seed 7');
      // the add was invoked at 0.5 s, before the fault: not counted as faulted
      expect(md).toMatch(/\| set \| add \| 1 \| 1 \| 0 \| 0 \| 1500 \| .* \| 0 \| - \|/);
      expect(await readFile(join(dir, 'timeline.svg'), 'utf8')).toMatch(/^<svg/);
      expect((await readFile(join(dir, 'set.jsonl'), 'utf8')).trim().split('\n')).toHaveLength(4);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('on a violation: the checker’s words, the window and the replay command', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'jepsen-report-'));
    try {
      const r = result([add(1, 1, 1, 'invoke'), add(2, 1, 1, 'complete'), ...read(10, [])]);
      expect(r.valid).toBe(false);
      const md = await readFile(
        await writeRealReport(dir, r, { command: 'x', opTimeout: 5000 }),
        'utf8',
      );
      expect(md).toContain('[set] lost-add: element 1 was acknowledged');
      expect(md).toContain(
        'replay with CPGKIT_CLUSTER_NODES=3 pnpm jepsen --real --time 10 --seed 7',
      );
      expect(md).toContain('set.final.n1 ok read []');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('RealNemesis.choose', () => {
  it('splits only with five nodes or more, and picks every other fault from the seed', () => {
    const pick = (nodes: number): Set<string> => {
      const n = new RealNemesis(
        new Serves('g', '/nowhere', nodes),
        nodes,
        new Random('x'),
        () => undefined,
      );
      return new Set(Array.from({ length: 400 }, () => n.choose()));
    };
    expect(pick(3).has('split')).toBe(false);
    expect(pick(3).size).toBe(7);
    expect(pick(5).size).toBe(8);
  });
});
