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

/** The Markdown report: one table per section, then notes and problems. */
export function toMarkdown(report: Report): string {
  const out: string[] = [];
  out.push(`# ${report.title}`, '');
  out.push(
    `Mode: **${report.mode}**. Started ${report.startedAt}${report.finishedAt ? `, finished ${report.finishedAt}` : ''}.`,
    '',
  );
  out.push(`Command: \`${report.command}\``, '');
  out.push(
    'Every figure is measured in the same run as its peer. **ratio** is cpgkit ÷ peer; it is in bold where cpgkit is ahead (a higher rate, or a lower latency, time or size).',
    '',
  );
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
