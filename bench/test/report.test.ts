import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkGoals, GOALS, toMarkdown, type Report, type Row } from '../src/report.js';
import { SCALE_KEYS_SECTION, SCALE_NODES_SECTION } from '../src/scale.js';

const RAW = 'Raw group messaging (one sender, 3 nodes, peer: plain C libcpg client)';

function row(
  section: string,
  figure: string,
  better: 'higher' | 'lower',
  cpgkit?: number,
  peerValue?: number,
  variant = '—',
): Row {
  return {
    section,
    figure,
    variant,
    unit: better === 'higher' ? 'ops/s' : 'ms',
    better,
    peer: section === RAW ? 'C libcpg' : 'etcd',
    ...(cpgkit === undefined ? {} : { cpgkit }),
    ...(peerValue === undefined ? {} : { peerValue }),
  };
}

function report(rows: Row[], notes: string[] = []): Report {
  return {
    title: 'test report',
    startedAt: '2026-01-01T00:00:00.000Z',
    mode: 'quick',
    command: 'pnpm bench --quick',
    environment: { machine: 'test' },
    notes,
    rows,
    distributions: [],
    details: {},
    problems: [],
  };
}

const goal = (rows: Row[], text: string) => checkGoals({ rows }).find((g) => g.goal === text)!;

describe('toMarkdown', () => {
  it("prints the report's notes, one item each", () => {
    const md = toMarkdown(report([], ['first note', 'second\nnote']));
    expect(md).toContain('## Notes\n\n- first note\n- second note\n');
    expect(md.indexOf('## Notes')).toBeLessThan(md.indexOf('## Environment'));
  });

  it('has no Notes section when there are none', () => {
    expect(toMarkdown(report([]))).not.toContain('## Notes');
  });

  it('lists every goal with the measured ratios and met / not met', () => {
    const md = toMarkdown(
      report([
        row(RAW, 'msgs/s, 64 B', 'higher', 95, 100),
        row(RAW, 'msgs/s, 10 KB', 'higher', 80, 100),
        row(RAW, 'logical 64 B messages/s, batched', 'higher', 1200, 100),
        row('Election', 'failover after kill -9 of the leader process (median)', 'lower', 0.1, 2),
      ]),
    );
    const goals = md.slice(md.indexOf('## Goals'), md.indexOf('## ', md.indexOf('## Goals') + 1));
    for (const g of GOALS) expect(goals).toContain(`- ${g.goal}: `);
    expect(goals).toContain(
      '- raw messaging at least 0.9x plain C libcpg, at 64 B and 10 KB: **not met**',
    );
    expect(goals).toContain('  - msgs/s, 64 B: 0.950x, goal ≥ 0.9x: met');
    expect(goals).toContain('  - msgs/s, 10 KB: 0.800x, goal ≥ 0.9x: not met');
    expect(goals).toContain('- batched small messages at least 10x plain C libcpg: **met**');
    expect(goals).toContain('  - logical 64 B messages/s, batched: 12.0x, goal ≥ 10x: met');
    expect(goals).toContain(
      '  - failover after kill -9 of the leader process (median): 20.0x faster, goal ≥ 2x faster: met',
    );
    // a goal no row of this run covers says so rather than passing
    expect(goals).toMatch(/config writes .*: not measured\n {2}- no figure of this run covers it/);
  });
});

describe('the scale section', () => {
  const rows = [
    row('Config store', 'writes/s, 1 writer (64 in flight)', 'higher', 3000, 1000),
    row(SCALE_NODES_SECTION, 'writes/s, 1 writer (64 in flight), 5 nodes', 'higher', 100, 1000),
    row(SCALE_KEYS_SECTION, 'time for a new replica to receive 10,000 keys', 'lower', 1, 2),
  ];

  it("its rows are no goal's: a curve point below etcd does not fail the config goal", () => {
    const config = checkGoals({ rows }).find((g) => g.goal.startsWith('config writes'))!;
    expect(config.lines.map((l) => l.row.section)).toEqual(['Config store']);
  });

  it('the scale chart follows the table of the last scale section of the report', () => {
    const md = toMarkdown({
      ...report(rows),
      charts: [
        { sections: [SCALE_NODES_SECTION, SCALE_KEYS_SECTION], file: 'scale.svg', alt: 'scale' },
      ],
    });
    const at = md.indexOf('![scale](scale.svg)');
    expect(at).toBeGreaterThan(md.indexOf(`## ${SCALE_KEYS_SECTION}`));
    expect(md.indexOf('![scale](scale.svg)', at + 1)).toBe(-1);
    // with the store-size rows missing, it follows the cluster-size table
    const md2 = toMarkdown({
      ...report(rows.slice(0, 2)),
      charts: [
        { sections: [SCALE_NODES_SECTION, SCALE_KEYS_SECTION], file: 'scale.svg', alt: 'scale' },
      ],
    });
    expect(md2.indexOf('![scale](scale.svg)')).toBeGreaterThan(
      md2.indexOf(`## ${SCALE_NODES_SECTION}`),
    );
  });
});

describe('checkGoals', () => {
  const CONFIG = "config writes several times (at least 2x) etcd's rate, at a lower p99 latency";
  const FAILOVER = 'failover several times (at least 2x) faster than etcd';

  it('a rate goal needs every variant at the ratio; a latency goal only the p99 rows, lower than the peer', () => {
    const durable = 'durable';
    const fast = 'no fsync';
    const rows = [
      row('Config store', 'writes/s, 1 writer (64 in flight)', 'higher', 300, 100, durable),
      row('Config store', 'writes/s, 1 writer (64 in flight)', 'higher', 250, 100, fast),
      row('Config store', 'write latency at 300/s p50', 'lower', 9, 1, durable), // not the goal's
      row('Config store', 'write latency at 300/s p99', 'lower', 4, 5, durable),
      row('Config store', 'write latency at 300/s p99.9', 'lower', 9, 1, durable), // neither
      row('Config store', 'read latency p99', 'lower', 9, 1), // another figure
    ];
    const g = goal(rows, CONFIG);
    expect(g.lines.map((l) => [l.row.figure, l.measured, l.met])).toEqual([
      ['writes/s, 1 writer (64 in flight)', 3, true],
      ['writes/s, 1 writer (64 in flight)', 2.5, true],
      ['write latency at 300/s p99', 0.8, true],
    ]);
    expect(g.met).toBe(true);
    // one variant short of 2x: the goal is not met
    rows[1] = row('Config store', 'writes/s, 1 writer (64 in flight)', 'higher', 150, 100, fast);
    expect(goal(rows, CONFIG).met).toBe(false);
    // an equal p99 is not a lower one
    rows[1] = row('Config store', 'writes/s, 1 writer (64 in flight)', 'higher', 250, 100, fast);
    rows[3] = row('Config store', 'write latency at 300/s p99', 'lower', 5, 5, durable);
    expect(goal(rows, CONFIG).met).toBe(false);
  });

  it('failover counts how many times faster cpgkit is (peer ÷ cpgkit)', () => {
    const rows = [
      row('Election', 'failover after kill -9 of the leader process (median)', 'lower', 0.5, 2),
      row('Election', "failover after kill -9 of the leader's node (median)", 'lower', 3, 4),
    ];
    const g = goal(rows, FAILOVER);
    expect(g.lines.map((l) => [l.measured, l.met])).toEqual([
      [4, true],
      [4 / 3, false],
    ]);
    expect(g.met).toBe(false);
  });

  it('a missing figure is not measured: never met, not met only if a measured one fails', () => {
    const PROCESS = 'failover after kill -9 of the leader process (median)';
    const missing = row(
      'Election',
      "failover after kill -9 of the leader's node (median)",
      'lower',
    );
    const fine = row('Election', PROCESS, 'lower', 1, 3);
    const slow = row('Election', PROCESS, 'lower', 2, 3);
    const partial = goal([fine, missing], FAILOVER);
    expect(partial.met).toBeUndefined();
    expect(partial.incomplete).toBe(true);
    expect(partial.lines[1]!.measured).toBeUndefined();
    expect(goal([slow, missing], FAILOVER).met).toBe(false);
    expect(goal([], FAILOVER)).toMatchObject({ lines: [], incomplete: true });
    expect(goal([], FAILOVER).met).toBeUndefined();
    expect(toMarkdown(report([fine, missing]))).toContain(
      `- ${FAILOVER}: met where measured (some figures missing)`,
    );
  });

  it('every check matches figures of the committed full run (figure names and goals agree)', () => {
    const committed = JSON.parse(
      readFileSync(new URL('../results/report.json', import.meta.url), 'utf8'),
    ) as Report;
    for (const g of checkGoals(committed)) {
      expect(g.lines.length, g.goal).toBeGreaterThan(0);
      expect(g.incomplete, g.goal).toBe(false);
    }
    for (const { checks } of GOALS)
      for (const c of checks)
        expect(
          checkGoals(committed, [{ goal: 'one check', checks: [c] }])[0]!.lines.length,
          `${c.section} / ${c.figure}`,
        ).toBeGreaterThan(0);
  });
});
