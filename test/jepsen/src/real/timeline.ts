/**
 * The timeline chart of a real run: one panel per workload, time on x, each operation a point
 * at its latency (unknown outcomes at the top), coloured by outcome, over the faults drawn as
 * bands. Drawn with vega-lite + vega and rendered to SVG headless, as the benchmark draws its
 * charts (bench/src/chart.ts).
 * @module
 */
import { writeFile } from 'node:fs/promises';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { operations, type HistoryRecord } from '../history.js';

/** A fault's band. */
export interface Band {
  readonly fault: string;
  readonly from: number;
  readonly to: number;
}

/** The faults' bands (seconds since the start) from the nemesis's records. */
export function faultBands(faults: readonly HistoryRecord[]): Band[] {
  const open: { fault: string; from: number }[] = [];
  const bands: Band[] = [];
  for (const r of faults) {
    if (r.kind !== 'event' || r.event !== 'fault') continue;
    const v = r.value as { fault: string; phase: string };
    if (v.phase === 'start') open.push({ fault: v.fault, from: r.vt / 1000 });
    else {
      const i = open.findIndex((b) => b.fault === v.fault);
      if (i >= 0) bands.push({ ...open.splice(i, 1)[0]!, to: r.vt / 1000 });
    }
  }
  const end = Math.max(0, ...faults.map((r) => r.vt / 1000));
  for (const b of open) bands.push({ ...b, to: end });
  return bands;
}

/** At most this many points per panel (every non-ok one, a sample of the rest). */
const MAX_POINTS = 4000;

/** The vega-lite spec. */
export function timelineSpec(
  histories: Readonly<Record<string, readonly HistoryRecord[]>>,
  faults: readonly HistoryRecord[],
  opTimeout: number,
): TopLevelSpec {
  const bands = faultBands(faults);
  const panels = Object.entries(histories).map(([workload, recs]) => {
    const ops = operations(recs).filter((o) => Number.isFinite(o.vtInvoke));
    const ok = ops.filter((o) => o.outcome === 'ok');
    const keep = Math.max(
      1,
      Math.ceil(ok.length / Math.max(1, MAX_POINTS - (ops.length - ok.length))),
    );
    const points = ops
      .filter((o, i) => o.outcome !== 'ok' || i % keep === 0)
      .map((o) => ({
        s: o.vtInvoke / 1000,
        ms: o.outcome === 'unknown' ? opTimeout * 2 : Math.max(0.1, o.vtComplete - o.vtInvoke),
        outcome: o.outcome,
        op: o.op,
      }));
    return {
      title: `${workload} (${ops.length} operations${keep > 1 ? `, 1 ok in ${keep} drawn` : ''})`,
      width: 900,
      height: 160,
      layer: [
        {
          data: { values: bands },
          mark: { type: 'rect' as const, opacity: 0.25 },
          encoding: {
            x: { field: 'from', type: 'quantitative' as const, title: 'seconds' },
            x2: { field: 'to' },
            color: {
              field: 'fault',
              type: 'nominal' as const,
              title: 'fault',
              scale: { scheme: 'tableau10' },
            },
          },
        },
        {
          data: { values: points },
          mark: { type: 'point' as const, filled: true, size: 10 },
          encoding: {
            x: { field: 's', type: 'quantitative' as const },
            y: {
              field: 'ms',
              type: 'quantitative' as const,
              title: 'latency (ms, log; unknown at top)',
              scale: { type: 'log' as const },
            },
            shape: { field: 'outcome', type: 'nominal' as const, title: 'outcome' },
            stroke: { value: null },
            fill: {
              field: 'outcome',
              type: 'nominal' as const,
              title: 'outcome',
              scale: {
                domain: ['ok', 'fail', 'unknown'],
                range: ['#2b8a3e', '#e8590c', '#c92a2a'],
              },
            },
          },
        },
      ],
    };
  });
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: 'Operations over time, faults as bands',
    vconcat: panels,
    resolve: { scale: { color: 'independent' } },
  };
}

/** Render the chart to `file` (SVG). */
export async function writeTimeline(
  file: string,
  histories: Readonly<Record<string, readonly HistoryRecord[]>>,
  faults: readonly HistoryRecord[],
  opTimeout: number,
): Promise<void> {
  const view = new vega.View(vega.parse(compile(timelineSpec(histories, faults, opTimeout)).spec), {
    renderer: 'none',
  });
  try {
    await writeFile(file, await view.toSVG());
  } finally {
    view.finalize();
  }
}
