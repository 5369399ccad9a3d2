/**
 * The report: rows of (figure, variant, cpgkit, peer, ratio), latency distributions for the
 * chart, and how it was run; written as JSON and Markdown.
 * @module
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { distribution, summarize, type LatencySummary } from './stats.js';

/** One figure, with its peer's, measured in the same run. */
export interface Row {
  readonly section: string;
  readonly figure: string;
  /** Which configuration of each system this row pairs (e.g. durable, no fsync). */
  readonly variant: string;
  readonly unit: string;
  /** Whether a higher number is better (rates) or a lower one (latencies, times, sizes). */
  readonly better: 'higher' | 'lower';
  /** The peer system of this row: `etcd` or `C libcpg`. */
  readonly peer: string;
  readonly cpgkit?: number;
  readonly peerValue?: number;
  /** Why a value is missing, or how it was measured when that matters. */
  readonly note?: string;
}

/** A latency distribution, for the chart and the JSON report. */
export interface Distribution {
  readonly figure: string;
  readonly system: string;
  readonly variant: string;
  readonly summary: LatencySummary;
  readonly points: { percentile: number; ms: number }[];
}

/** A chart file shown after the table of the last of `sections` the report has. */
export interface ReportChart {
  readonly sections: readonly string[];
  /** The file, next to report.md. */
  readonly file: string;
  readonly alt: string;
}

/** Everything a run produced. */
export interface Report {
  readonly title: string;
  readonly startedAt: string;
  readonly finishedAt?: string;
  readonly mode: 'full' | 'quick';
  readonly command: string;
  readonly environment: Record<string, string>;
  /** How to read the figures: what is paired with what, and where the comparison is uneven. */
  readonly notes: string[];
  readonly rows: Row[];
  readonly distributions: Distribution[];
  /** Charts shown after a section's table (the latency chart has a section of its own). */
  readonly charts?: readonly ReportChart[];
  /** Raw per-scenario details (counts, per-worker figures, failover samples). */
  readonly details: Record<string, unknown>;
  readonly problems: string[];
}

/** cpgkit ÷ peer, or undefined when either is missing or the peer is 0. */
export function ratio(row: Row): number | undefined {
  if (row.cpgkit === undefined || row.peerValue === undefined || row.peerValue === 0)
    return undefined;
  return row.cpgkit / row.peerValue;
}

/** Whether cpgkit's figure is the better one (undefined when a value is missing). */
export function cpgkitAhead(row: Row): boolean | undefined {
  const r = ratio(row);
  if (r === undefined) return undefined;
  return row.better === 'higher' ? r > 1 : r < 1;
}

/** A distribution entry from raw samples (ms). */
export function toDistribution(
  figure: string,
  system: string,
  variant: string,
  samples: readonly number[],
): Distribution | undefined {
  if (samples.length === 0) return undefined;
  return { figure, system, variant, summary: summarize(samples), points: distribution(samples) };
}

/** Format a number for the table: 3 significant digits, thousands separators for big ones. */
export function fmt(x: number | undefined): string {
  if (x === undefined || !Number.isFinite(x)) return '—';
  const a = Math.abs(x);
  if (a >= 1000) return Math.round(x).toLocaleString('en-US');
  if (a >= 100) return x.toFixed(0);
  if (a >= 10) return x.toFixed(1);
  if (a >= 1) return x.toFixed(2);
  if (a === 0) return '0';
  return x.toPrecision(2);
}

function times(r: number): string {
  return r >= 100
    ? `${Math.round(r).toLocaleString('en-US')}x`
    : r >= 10
      ? `${r.toFixed(1)}x`
      : `${r.toFixed(2)}x`;
}

/** `cpgkit ÷ peer`, then how much better or worse that is for cpgkit (bold when better). */
function fmtRatio(row: Row): string {
  const r = ratio(row);
  if (r === undefined || r <= 0) return '—';
  const ahead = cpgkitAhead(row);
  const factor = row.better === 'higher' ? r : 1 / r;
  const verdict =
    factor === 1 ? 'even' : ahead ? `${times(factor)} better` : `${times(1 / factor)} worse`;
  return ahead ? `**${times(r)}** (${verdict})` : `${times(r)} (${verdict})`;
}

/** One measurable part of a goal: rows matched by section and figure, and the ratio wanted. */
export interface GoalCheck {
  /** The rows' section starts with this. */
  readonly section: string;
  /** The rows' figure starts with this (every variant of it counts). */
  readonly figure: string;
  /**
   * `at-least`: cpgkit ÷ peer must be at least `target` (rates). `faster`: peer ÷ cpgkit must be
   * at least `target` (times). `below`: cpgkit ÷ peer must be under `target` (a latency's p99 row;
   * times and sizes).
   */
  readonly kind: 'at-least' | 'faster' | 'below';
  readonly target: number;
}

/** A goal of the benchmark issue. */
export interface Goal {
  readonly goal: string;
  readonly checks: readonly GoalCheck[];
}

/** The goals of the benchmark issue, checked against the rows of every report. */
export const GOALS: readonly Goal[] = [
  {
    goal: 'raw messaging at least 0.9x plain C libcpg, at 64 B and 10 KB',
    checks: [
      { section: 'Raw group messaging', figure: 'msgs/s, 64 B', kind: 'at-least', target: 0.9 },
      { section: 'Raw group messaging', figure: 'msgs/s, 10 KB', kind: 'at-least', target: 0.9 },
    ],
  },
  {
    goal: 'batched small messages at least 10x plain C libcpg',
    checks: [
      {
        section: 'Raw group messaging',
        figure: 'logical 64 B messages/s, batched',
        kind: 'at-least',
        target: 10,
      },
    ],
  },
  {
    goal: "config writes several times (at least 2x) etcd's rate, at a lower p99 latency",
    checks: [
      { section: 'Config store', figure: 'writes/s', kind: 'at-least', target: 2 },
      { section: 'Config store', figure: 'write latency at ', kind: 'below', target: 1 },
    ],
  },
  {
    goal: "lock operations several times (at least 2x) etcd's rate, at a lower p99 latency",
    checks: [
      { section: 'Locks', figure: 'uncontended acquire+release/s', kind: 'at-least', target: 2 },
      { section: 'Locks', figure: 'grants/s', kind: 'at-least', target: 2 },
      { section: 'Locks', figure: 'hand-off latency', kind: 'below', target: 1 },
    ],
  },
  {
    goal: 'failover several times (at least 2x) faster than etcd',
    checks: [{ section: 'Election', figure: 'failover', kind: 'faster', target: 2 }],
  },
  // the state machine core's issue (#15): a higher bar on the same rows, and two more
  {
    goal: "#15: every config-store write rate at least 3x etcd's",
    checks: [{ section: 'Config store', figure: 'writes/s', kind: 'at-least', target: 3 }],
  },
  {
    goal: "#15: write p99 at a fixed rate under 0.5x etcd's",
    checks: [{ section: 'Config store', figure: 'write latency at ', kind: 'below', target: 0.5 }],
  },
  {
    goal: "#15: every lock rate at least 3x etcd's",
    checks: [
      { section: 'Locks', figure: 'uncontended acquire+release/s', kind: 'at-least', target: 3 },
      { section: 'Locks', figure: 'grants/s', kind: 'at-least', target: 3 },
    ],
  },
  {
    goal: "#15: a new replica receives 100,000 keys in under 0.3x etcd's time",
    checks: [
      { section: 'Config store', figure: 'time for a new replica', kind: 'below', target: 0.3 },
    ],
  },
  {
    goal: "#15: resident size with 100,000 keys under etcd's",
    checks: [{ section: 'Memory', figure: 'resident size', kind: 'below', target: 1 }],
  },
];

/** One row measured against one check of a goal. */
export interface GoalLine {
  readonly row: Row;
  readonly check: GoalCheck;
  /** The ratio in the check's terms (peer ÷ cpgkit for `faster`), undefined when not measured. */
  readonly measured?: number;
  readonly met?: boolean;
}

/** A goal with its rows: `met` when every row meets it, undefined when none was measured. */
export interface GoalResult {
  readonly goal: string;
  readonly lines: GoalLine[];
  readonly met?: boolean;
  /** Some matching rows (or no row at all) lack a figure. */
  readonly incomplete: boolean;
}

/** `Row.peer` of a row measured on cpgkit alone (no peer figure by design). */
export const NO_PEER = '—';

function matches(row: Row, check: GoalCheck): boolean {
  // a row with no peer by design (a setting of cpgkit's alone) is no goal's
  if (row.peer === NO_PEER) return false;
  if (!row.section.startsWith(check.section) || !row.figure.startsWith(check.figure)) return false;
  // a latency check is about p99: the p50 and p99.9 rows of the same figure are not the goal's
  return check.kind !== 'below' || !/latency/.test(row.figure) || / p99$/.test(row.figure);
}

/** Each goal of `goals` against the rows of `report`. */
export function checkGoals(report: Pick<Report, 'rows'>, goals = GOALS): GoalResult[] {
  return goals.map(({ goal, checks }) => {
    const lines: GoalLine[] = [];
    for (const check of checks) {
      for (const row of report.rows.filter((r) => matches(r, check))) {
        const r = ratio(row);
        if (r === undefined || r <= 0) {
          lines.push({ row, check });
          continue;
        }
        const measured = check.kind === 'faster' ? 1 / r : r;
        const met = check.kind === 'below' ? measured < check.target : measured >= check.target;
        lines.push({ row, check, measured, met });
      }
    }
    const measured = lines.filter((l) => l.met !== undefined);
    const incomplete = measured.length < lines.length || lines.length === 0;
    const met =
      measured.length === 0
        ? undefined
        : measured.some((l) => !l.met)
          ? false
          : incomplete
            ? undefined
            : true;
    return { goal, lines, incomplete, ...(met === undefined ? {} : { met }) };
  });
}

function goalTarget(c: GoalCheck): string {
  return c.kind === 'at-least'
    ? `≥ ${c.target}x`
    : c.kind === 'faster'
      ? `≥ ${c.target}x faster`
      : `< ${c.target}x${c.target === 1 ? " (lower than the peer's)" : ''}`;
}

function goalMeasured(l: GoalLine): string {
  if (l.measured === undefined) return 'not measured';
  // three significant digits: 0.997x is under 1x, which 1.00x would hide
  const m = l.measured;
  const x = m >= 100 ? `${Math.round(m).toLocaleString('en-US')}x` : `${m.toPrecision(3)}x`;
  return l.check.kind === 'faster' ? `${x} faster` : x;
}

function goalVerdict(g: GoalResult): string {
  if (g.met === true) return '**met**';
  if (g.met === false) return '**not met**';
  return g.lines.some((l) => l.met !== undefined)
    ? 'met where measured (some figures missing)'
    : 'not measured';
}

/** The Markdown report: the goals, one table per section, then notes and problems. */
export function toMarkdown(report: Report): string {
  const out: string[] = [];
  out.push(`# ${report.title}`, '');
  out.push(
    `Mode: **${report.mode}**. Started ${report.startedAt}${report.finishedAt ? `, finished ${report.finishedAt}` : ''}.`,
    '',
  );
  out.push(`Command: \`${report.command}\``, '');
  out.push(
    'Every figure is measured in the same run as its peer. **ratio** is cpgkit ÷ peer; it is in bold where cpgkit is ahead (a higher rate, or a lower latency, time or size). Write and lock rates and write latencies are measured after an unmeasured warm-up of the same workload by the same fresh workers, on both sides (`warmupMs`, `latencyWarmup`: bench/README.md).',
    '',
  );
  out.push('## Goals', '');
  out.push(
    "The goals of the benchmark issue, against this run's ratios (cpgkit ÷ peer; for failover, how many times faster cpgkit is). A goal is met when every row it covers meets it.",
    '',
  );
  for (const g of checkGoals(report)) {
    out.push(`- ${g.goal}: ${goalVerdict(g)}`);
    for (const l of g.lines) {
      const variant = l.row.variant === '—' ? '' : ` (${l.row.variant})`;
      out.push(
        `  - ${l.row.figure}${variant}: ${goalMeasured(l)}, goal ${goalTarget(l.check)}: ${l.met === undefined ? '—' : l.met ? 'met' : 'not met'}`,
      );
    }
    if (g.lines.length === 0) out.push('  - no figure of this run covers it');
  }
  out.push('');
  const sections = [...new Set(report.rows.map((r) => r.section))];
  for (const section of sections) {
    out.push(`## ${section}`, '');
    out.push('| figure | variant | unit | cpgkit | peer | peer value | ratio | note |');
    out.push('| --- | --- | --- | ---: | --- | ---: | ---: | --- |');
    for (const row of report.rows.filter((r) => r.section === section)) {
      const unit = `${row.unit} (${row.better === 'higher' ? 'higher' : 'lower'} is better)`;
      out.push(
        `| ${row.figure} | ${row.variant} | ${unit} | ${fmt(row.cpgkit)} | ${row.peer} | ${fmt(row.peerValue)} | ${fmtRatio(row)} | ${row.note ?? ''} |`,
      );
    }
    out.push('');
    for (const c of report.charts ?? []) {
      if (c.sections.filter((x) => sections.includes(x)).at(-1) === section)
        out.push(`![${c.alt}](${c.file})`, '');
    }
  }
  if (report.distributions.length) {
    out.push('## Latency distributions', '', '![latency distributions](latency.svg)', '');
    out.push(
      '| figure | system | variant | samples | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms |',
    );
    out.push('| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |');
    for (const d of report.distributions) {
      const s = d.summary;
      out.push(
        `| ${d.figure} | ${d.system} | ${d.variant} | ${s.count} | ${fmt(s.p50)} | ${fmt(s.p90)} | ${fmt(s.p99)} | ${fmt(s.p999)} | ${fmt(s.max)} |`,
      );
    }
    out.push('');
  }
  if (report.notes.length) {
    out.push('## Notes', '');
    for (const n of report.notes) out.push(`- ${n.replace(/\n/g, ' ')}`);
    out.push('');
  }
  out.push('## Environment', '');
  for (const [k, v] of Object.entries(report.environment)) out.push(`- ${k}: ${v}`);
  out.push('');
  if (report.problems.length) {
    out.push('## Problems in this run', '');
    for (const p of report.problems) out.push(`- ${p.replace(/\n/g, ' ')}`);
    out.push('');
  }
  return out.join('\n');
}

/** Write `report.json` and `report.md` into `dir`. */
export async function writeReport(dir: string, report: Report): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'report.json'), JSON.stringify(report, null, 2) + '\n');
  await writeFile(join(dir, 'report.md'), toMarkdown(report));
}
