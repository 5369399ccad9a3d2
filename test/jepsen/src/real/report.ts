/**
 * The report of a real run: `report.md` (seed, the faults as they happened, operations and
 * outcomes per workload, latency percentiles while faults were active and while none was, the
 * checkers' verdicts, each anomaly with its smallest window and how to replay it), the timeline
 * chart (`timeline.svg`), and the raw histories as JSON lines (`<workload>.jsonl`,
 * `faults.jsonl`).
 * @module
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { operations, toJsonLines } from '../history.js';
import { formatRecord } from '../report.js';
import type { RealResult } from './run.js';
import { faultBands, writeTimeline } from './timeline.js';

function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

const max = (xs: readonly number[]): number =>
  xs.length === 0 ? NaN : xs.reduce((a, b) => Math.max(a, b), -Infinity);
const ms = (x: number): string => (Number.isNaN(x) ? '-' : String(Math.round(x)));

/** How to replay the run. */
export function replayCommand(r: RealResult): string {
  return `CPGKIT_CLUSTER_NODES=${r.nodes} pnpm jepsen --real --time ${Math.round(r.timeMs / 1000)} --seed ${r.seed}`;
}

/** The anomalies as text (what the command prints). */
export function describeRealFailure(r: RealResult): string {
  const lines = [`seed ${r.seed} (${r.nodes} nodes): replay with ${replayCommand(r)}`];
  for (const v of r.verdicts)
    for (const a of v.anomalies) {
      lines.push(`  [${v.checker}] ${a.kind}: ${a.message}`);
      for (const rec of a.window.slice(0, 40)) lines.push(`      ${formatRecord(rec)}`);
      if (a.window.length > 40) lines.push(`      ... ${a.window.length - 40} more records`);
    }
  return lines.join('\n');
}

/** Write the report, chart and histories under `dir`; returns the report's path. */
export async function writeRealReport(
  dir: string,
  r: RealResult,
  info: { readonly command: string; readonly opTimeout: number },
): Promise<string> {
  await mkdir(dir, { recursive: true });
  const bands = faultBands(r.faults);
  const during = (s: number): boolean => bands.some((b) => s >= b.from && s <= b.to);
  const L: string[] = [];
  L.push(`# Jepsen campaign on the real cluster (${r.nodes} nodes)`, '');
  L.push(`- command: \`${info.command}\``);
  L.push(
    `- replay: \`${replayCommand(r)}\` (the same faults in the same order; real timing differs)`,
  );
  L.push(`- date: ${new Date().toISOString()}`);
  L.push(
    `- seed ${r.seed}, group \`${r.group}\`, ${r.nodes} nodes, nemesis ${Math.round(r.timeMs / 1000)} s, wall time ${Math.round(r.wallMs / 1000)} s, operation timeout ${info.opTimeout} ms`,
  );
  L.push(
    `- faults: ${Object.values(r.faultCounts).reduce((a, b) => a + b, 0)}; every serve healthy again ${r.convergedMs === undefined ? '**never**' : `${(r.convergedMs / 1000).toFixed(1)} s`} after healing`,
  );
  const anomalies = r.verdicts.reduce((s, v) => s + v.anomalies.length, 0);
  L.push(
    `- verdict: **${r.valid ? 'valid' : `${anomalies} anomal${anomalies === 1 ? 'y' : 'ies'}`}**`,
    '',
  );
  L.push('![timeline](timeline.svg)', '');

  L.push('## Verdicts', '', '| checker | valid | anomalies | stats |', '| --- | --- | --- | --- |');
  for (const v of r.verdicts)
    L.push(
      `| ${v.checker} | ${v.valid ? 'yes' : '**no**'} | ${v.anomalies.length} | ${Object.entries(
        v.stats,
      )
        .map(([k, x]) => `${k} ${x}`)
        .join(', ')} |`,
    );
  L.push('');

  L.push(
    '## Operations',
    '',
    'Latency in ms from invocation to completion, of operations that completed (ok or fail); "faulted" are those invoked while a fault was active.',
    '',
  );
  L.push(
    '| workload | op | total | ok | fail | unknown | p50 | p90 | p99 | max | faulted: n | p50 | p99 | max |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  );
  for (const [w, recs] of Object.entries(r.histories)) {
    const byOp = new Map<string, ReturnType<typeof operations>>();
    for (const o of operations(recs)) byOp.set(o.op, [...(byOp.get(o.op) ?? []), o]);
    for (const [op, os] of [...byOp].sort()) {
      const done = os.filter((o) => o.outcome !== 'unknown');
      const lat = done.map((o) => o.vtComplete - o.vtInvoke);
      const f = done.filter((o) => during(o.vtInvoke / 1000)).map((o) => o.vtComplete - o.vtInvoke);
      const n = (x: string): number => os.filter((o) => o.outcome === x).length;
      L.push(
        `| ${w} | ${op} | ${os.length} | ${n('ok')} | ${n('fail')} | ${n('unknown')} | ${ms(percentile(lat, 50))} | ${ms(percentile(lat, 90))} | ${ms(percentile(lat, 99))} | ${ms(max(lat))} | ${f.length} | ${ms(percentile(f, 50))} | ${ms(percentile(f, 99))} | ${ms(max(f))} |`,
      );
    }
  }
  L.push('');
  const errors = new Map<string, number>();
  for (const recs of Object.values(r.histories))
    for (const o of operations(recs))
      if (o.error !== undefined)
        errors.set(
          `${o.outcome} ${o.op}: ${o.error}`,
          (errors.get(`${o.outcome} ${o.op}: ${o.error}`) ?? 0) + 1,
        );
  L.push('Errors behind fail and unknown outcomes:', '');
  for (const [e, n] of [...errors].sort((a, b) => b[1] - a[1])) L.push(`- ${e}: ${n}`);
  L.push('');

  L.push('## Anomalies', '');
  if (r.valid) L.push('None.', '');
  else
    L.push(
      '```',
      describeRealFailure(r),
      '```',
      '',
      `The serves' and clients' logs were kept in \`${r.logsDir}\`.`,
      '',
    );

  L.push('## Faults', '', '| fault | count |', '| --- | --- |');
  for (const [f, n] of Object.entries(r.faultCounts).sort()) L.push(`| ${f} | ${n} |`);
  L.push('', 'As they happened (seconds since the start):', '', '```');
  for (const f of r.faults) {
    if (f.kind !== 'event') continue;
    const v = f.value as Record<string, unknown>;
    if (f.event === 'action') {
      const { action, ...rest } = v;
      L.push(`${(f.vt / 1000).toFixed(1).padStart(7)}  ${String(action)} ${JSON.stringify(rest)}`);
    } else if (f.event === 'phase')
      L.push(`${(f.vt / 1000).toFixed(1).padStart(7)}  -- ${String(v.phase)}`);
  }
  L.push('```', '');
  L.push('## Final reads', '', '```');
  for (const [n, f] of Object.entries(r.finals)) {
    const x = f as { registers: unknown; set: unknown };
    L.push(
      `${n}: registers ${JSON.stringify(x.registers)}, set ${Array.isArray(x.set) ? `${x.set.length} elements` : JSON.stringify(x.set)}`,
    );
  }
  L.push('```', '');

  for (const [w, recs] of Object.entries(r.histories))
    await writeFile(join(dir, `${w}.jsonl`), toJsonLines(recs));
  await writeFile(join(dir, 'faults.jsonl'), toJsonLines(r.faults));
  await writeTimeline(join(dir, 'timeline.svg'), r.histories, r.faults, info.opTimeout);
  const path = join(dir, 'report.md');
  await writeFile(path, L.join('\n') + '\n');
  return path;
}
