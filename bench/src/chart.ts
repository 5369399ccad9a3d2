/**
 * The latency chart: one panel per figure, latency against percentile (log scale of the
 * tail, as HDR histogram plots draw it), one line per system and variant. Drawn by
 * vega-lite + vega, rendered to SVG headless (no canvas needed).
 * @module
 */
import { writeFile } from 'node:fs/promises';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import type { Distribution } from './report.js';

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

/** Render `distributions` to an SVG string. */
export async function renderChart(distributions: readonly Distribution[]): Promise<string> {
  const vgSpec = compile(chartSpec(distributions)).spec;
  const view = new vega.View(vega.parse(vgSpec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Render and write the chart to `file`. */
export async function writeChart(
  file: string,
  distributions: readonly Distribution[],
): Promise<void> {
  await writeFile(file, await renderChart(distributions));
}
