/**
 * The charts: latency (one panel per figure, latency against percentile, a log scale of the
 * tail as HDR histogram plots draw it, one line per system and variant) and scale (the scale
 * section's curves). Drawn by vega-lite + vega, rendered to SVG headless (no canvas needed).
 * @module
 */
import { writeFile } from 'node:fs/promises';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import type { Distribution } from './report.js';
import type { ScalePoint } from './scale.js';

/** Build the vega-lite spec for `distributions`. */
export function chartSpec(distributions: readonly Distribution[]): TopLevelSpec {
  const values = distributions.flatMap((d) =>
    d.points
      .filter((p) => p.percentile < 100)
      .map((p) => ({
        figure: d.figure,
        series: `${d.system} (${d.variant})`,
        percentile: p.percentile,
        nines: -Math.log10(1 - p.percentile / 100),
        ms: Math.max(p.ms, 0.001),
      })),
  );
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: 'cpgkit vs etcd: latency distributions (same run)',
    data: { values },
    facet: {
      field: 'figure',
      type: 'nominal',
      title: null,
      header: { labelFontSize: 13, labelFontWeight: 'bold' },
    },
    columns: 2,
    resolve: { scale: { y: 'independent' } },
    spec: {
      width: 380,
      height: 240,
      mark: { type: 'line', point: { size: 20 } },
      encoding: {
        x: {
          field: 'nines',
          type: 'quantitative',
          title: 'percentile',
          scale: { domain: [0, 4] },
          axis: {
            values: [0, 1, 2, 3, 4],
            labelExpr: "['0%', '90%', '99%', '99.9%', '99.99%'][datum.value]",
          },
        },
        y: {
          field: 'ms',
          type: 'quantitative',
          title: 'latency (ms, log)',
          scale: { type: 'log' },
        },
        color: {
          field: 'series',
          type: 'nominal',
          title: 'system (variant)',
          legend: { orient: 'bottom', columns: 2, labelLimit: 400 },
        },
        tooltip: [
          { field: 'series', type: 'nominal' },
          { field: 'percentile', type: 'quantitative' },
          { field: 'ms', type: 'quantitative', format: '.3f' },
        ],
      },
    },
  };
}

/** The panels of the scale chart: which curve and metric each draws. */
const SCALE_PANELS: readonly { curve: ScalePoint['curve']; metric: ScalePoint['metric'] }[] = [
  { curve: 'nodes', metric: 'writes/s' },
  { curve: 'nodes', metric: 'write p99 (ms)' },
  { curve: 'keys', metric: 'sync time (s)' },
  { curve: 'keys', metric: 'resident size (MiB)' },
];

/**
 * The scale chart's vega-lite spec: writes/s and write p99 against the cluster's size, sync
 * time and resident size against the store's (log scales), one line per system.
 */
export function scaleChartSpec(points: readonly ScalePoint[]): TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: 'cpgkit vs etcd: scale (same run)',
    data: { values: points.map((p) => ({ ...p })) },
    columns: 2,
    concat: SCALE_PANELS.map(({ curve, metric }) => ({
      title: `${metric} against ${curve === 'nodes' ? 'cluster size' : 'store size'}`,
      width: 340,
      height: 220,
      transform: [
        {
          filter: {
            and: [
              { field: 'curve', equal: curve },
              { field: 'metric', equal: metric },
            ],
          },
        },
      ],
      mark: { type: 'line', point: { size: 40 } },
      encoding: {
        x: {
          field: 'x',
          type: 'quantitative',
          title: curve === 'nodes' ? 'nodes (corosync nodes / etcd members)' : 'keys (log)',
          ...(curve === 'keys'
            ? { scale: { type: 'log' }, axis: { format: '~s' } }
            : { scale: { zero: false }, axis: { tickMinStep: 1 } }),
        },
        y: {
          field: 'value',
          type: 'quantitative',
          title: curve === 'keys' ? `${metric}, log` : metric,
          ...(curve === 'keys' ? { scale: { type: 'log' } } : {}),
        },
        color: { field: 'system', type: 'nominal', title: 'system' },
        tooltip: [
          { field: 'system', type: 'nominal' },
          { field: 'x', type: 'quantitative' },
          { field: 'value', type: 'quantitative', format: '.3~f' },
        ],
      },
    })),
  };
}

/** Render a vega-lite spec to an SVG string, headless. */
async function renderSpec(spec: TopLevelSpec): Promise<string> {
  const vgSpec = compile(spec).spec;
  const view = new vega.View(vega.parse(vgSpec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Render `distributions` to an SVG string. */
export function renderChart(distributions: readonly Distribution[]): Promise<string> {
  return renderSpec(chartSpec(distributions));
}

/** Render the scale chart of `points` to an SVG string. */
export function renderScaleChart(points: readonly ScalePoint[]): Promise<string> {
  return renderSpec(scaleChartSpec(points));
}

/** Render and write the scale chart of `points` to `file`. */
export async function writeScaleChart(file: string, points: readonly ScalePoint[]): Promise<void> {
  await writeFile(file, await renderScaleChart(points));
}

/** Render and write the chart to `file`. */
export async function writeChart(
  file: string,
  distributions: readonly Distribution[],
): Promise<void> {
  await writeFile(file, await renderChart(distributions));
}
