/**
 * Campaign reports: `report.md` (seeds, faults, operations and outcomes per workload, latency
 * percentiles, the checkers' verdicts, and every anomaly with its smallest failing window)
 * plus the raw histories as JSON lines.
 * @module
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { operations, toJsonLines, type HistoryRecord } from './history.js';
import type { ScheduleResult } from './sim/run.js';
import type { AllowedLoss } from './sim/allowed-losses.js';

/** One record as a line of a window. */
export function formatRecord(r: HistoryRecord): string {
  const head = `t=${r.t} vt=${Math.round(r.vt)}ms`;
  if (r.kind === 'event')
    return `${head} ${r.process ?? 'nemesis'} ${r.event} ${JSON.stringify(r.value)}`;
  if (r.kind === 'invoke') return `${head} ${r.process} invoke ${r.op} ${JSON.stringify(r.value)}`;
  return `${head} ${r.process} ${r.outcome} ${r.op} ${JSON.stringify(r.value)}${r.error ? ` (${r.error})` : ''}`;
}

/**
 * The anomalies of one schedule, as text (what a failing test prints); with `allowed`, first
 * the reason its durability mode allows them (sim/allowed-losses.ts).
 */
export function describeFailure(r: ScheduleResult, allowed?: AllowedLoss): string {
  const lines = [
    `seed ${r.seed} (${r.nodes} nodes, quorumDelay ${r.quorumDelay}): replay with CPGKIT_SEED=${r.seed}`,
  ];
  if (allowed !== undefined)
    lines.push(
      `  allowed in durability 'memory' (a majority of Q died with it in memory): ${allowed.why}`,
    );
  for (const v of r.verdicts) {
    for (const a of v.anomalies) {
      lines.push(`  [${v.checker}] ${a.kind}: ${a.message}`);
      for (const rec of a.window) lines.push(`      ${formatRecord(rec)}`);
    }
  }
  return lines.join('\n');
}

function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

/** Write `report.md` and the histories under `dir`; returns the report's path. */
export async function writeReport(
  dir: string,
  results: readonly ScheduleResult[],
  info: {
    readonly command: string;
    readonly wallMs: number;
    /** The schedules whose anomalies their durability mode allows (sim/allowed-losses.ts). */
    readonly allowed?: ReadonlyMap<number, AllowedLoss>;
  },
): Promise<string> {
  await mkdir(dir, { recursive: true });
  const failed = results.filter((r) => !r.valid);
  const allowed = info.allowed ?? new Map<number, AllowedLoss>();
  const allowedCount = failed.filter((r) => allowed.has(r.seed)).length;
  const lines: string[] = [];
  lines.push(`# In-memory Jepsen campaign`, '');
  lines.push(`- command: \`${info.command}\``);
  lines.push(`- date: ${new Date().toISOString()}`);
  lines.push(
    `- schedules: ${results.length} (seeds ${results[0]?.seed ?? '-'}..${results.at(-1)?.seed ?? '-'}; ` +
      `${results.filter((r) => r.nodes === 3).length} on 3 nodes, ${results.filter((r) => r.nodes === 5).length} on 5)`,
  );
  lines.push(
    `- virtual time covered: ${Math.round(results.reduce((s, r) => s + r.virtualMs, 0) / 1000)} s; wall time ${Math.round(info.wallMs / 1000)} s`,
  );
  lines.push(
    `- schedules with an anomaly: **${failed.length}**` +
      (allowedCount === 0
        ? ''
        : ` (${allowedCount} of them a loss that durability 'memory' allows: a majority of Q died with acknowledged writes in memory; src/sim/allowed-losses.ts)`),
    '',
  );

  const faults = new Map<string, number>();
  for (const r of results)
    for (const [f, n] of Object.entries(r.faultCounts))
      faults.set(f, (faults.get(f) ?? 0) + (n ?? 0));
  lines.push('## Faults', '', '| fault | count |', '| --- | --- |');
  for (const [f, n] of [...faults].sort()) lines.push(`| ${f} | ${n} |`);
  lines.push('');

  lines.push(
    '## Operations',
    '',
    'Latencies are in virtual ms, from invocation to completion, of operations that completed.',
    '',
    '| workload | op | ok | fail | unknown | p50 | p99 |',
    '| --- | --- | --- | --- | --- | --- | --- |',
  );
  const table = new Map<string, { ok: number; fail: number; unknown: number; lat: number[] }>();
  for (const r of results) {
    for (const [w, recs] of Object.entries(r.histories)) {
      for (const o of operations(recs)) {
        const k = `${w}|${o.op}`;
        const row = table.get(k) ?? { ok: 0, fail: 0, unknown: 0, lat: [] };
        row[o.outcome]++;
        if (o.outcome !== 'unknown') row.lat.push(o.vtComplete - o.vtInvoke);
        table.set(k, row);
      }
    }
  }
  for (const [k, row] of [...table].sort()) {
    const [w, op] = k.split('|');
    lines.push(
      `| ${w} | ${op} | ${row.ok} | ${row.fail} | ${row.unknown} | ${Math.round(percentile(row.lat, 50))} | ${Math.round(percentile(row.lat, 99))} |`,
    );
  }
  lines.push('');

  lines.push('## Verdicts', '', '| checker | valid | invalid |', '| --- | --- | --- |');
  const verdicts = new Map<string, [number, number]>();
  for (const r of results) {
    for (const v of r.verdicts) {
      const c = verdicts.get(v.checker) ?? [0, 0];
      c[v.valid ? 0 : 1]++;
      verdicts.set(v.checker, c);
    }
  }
  for (const [c, [ok, bad]] of verdicts) lines.push(`| ${c} | ${ok} | ${bad} |`);
  lines.push('');

  lines.push('## Anomalies', '');
  if (failed.length === 0) lines.push('None.');
  for (const r of failed) {
    lines.push('```', describeFailure(r, allowed.get(r.seed)), '```', '');
    const sub = join(dir, `seed-${r.seed}`);
    await mkdir(sub, { recursive: true });
    await writeFile(join(sub, 'faults.jsonl'), toJsonLines(r.faults));
    for (const [w, recs] of Object.entries(r.histories))
      await writeFile(join(sub, `${w}.jsonl`), toJsonLines(recs));
  }
  // the first schedule's histories as a sample, whatever its verdict
  const first = results[0];
  if (first !== undefined && first.valid) {
    const sub = join(dir, `seed-${first.seed}`);
    await mkdir(sub, { recursive: true });
    await writeFile(join(sub, 'faults.jsonl'), toJsonLines(first.faults));
    for (const [w, recs] of Object.entries(first.histories))
      await writeFile(join(sub, `${w}.jsonl`), toJsonLines(recs));
  }
  const path = join(dir, 'report.md');
  await writeFile(path, lines.join('\n') + '\n');
  return path;
}
