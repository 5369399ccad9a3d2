import { describe, it, expect } from 'vitest';
import { renderChart, renderScaleChart, scaleChartSpec } from '../src/chart.js';
import { toDistribution } from '../src/report.js';
import type { ScalePoint } from '../src/scale.js';

describe('latency chart', () => {
  it('renders an SVG with one line per system and variant, headless', async () => {
    const a = toDistribution('write latency', 'cpgkit', 'in memory', [1, 2, 3, 4, 50]);
    const b = toDistribution('write latency', 'etcd', 'fsync', [2, 4, 6, 8, 100]);
    const svg = await renderChart([a!, b!]);
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('cpgkit (in memory)');
    expect(svg).toContain('etcd (fsync)');
    expect(svg).toContain('write latency');
    expect(svg).toContain('99.9%');
  });
});

describe('scale chart', () => {
  it('renders the four curves (cluster size and store size), one line per system', async () => {
    const points: ScalePoint[] = [];
    for (const [x, c, e] of [
      [3, 3000, 1500],
      [5, 2500, 1200],
      [7, 2000, 1000],
    ] as const) {
      points.push({ curve: 'nodes', x, system: 'cpgkit', metric: 'writes/s', value: c });
      points.push({ curve: 'nodes', x, system: 'etcd', metric: 'writes/s', value: e });
      points.push({ curve: 'nodes', x, system: 'cpgkit', metric: 'write p99 (ms)', value: x });
    }
    for (const k of [10_000, 100_000, 1_000_000]) {
      points.push({
        curve: 'keys',
        x: k,
        system: 'cpgkit',
        metric: 'sync time (s)',
        value: k / 1e5,
      });
      points.push({
        curve: 'keys',
        x: k,
        system: 'etcd',
        metric: 'resident size (MiB)',
        value: 50,
      });
    }
    const spec = scaleChartSpec(points) as unknown as { concat: { title: string }[] };
    expect(spec.concat.map((p) => p.title)).toEqual([
      'writes/s against cluster size',
      'write p99 (ms) against cluster size',
      'sync time (s) against store size',
      'resident size (MiB) against store size',
    ]);
    const svg = await renderScaleChart(points);
    expect(svg.startsWith('<svg')).toBe(true);
    for (const text of ['cpgkit', 'etcd', 'keys (log)', 'nodes (corosync nodes / etcd members)'])
      expect(svg).toContain(text);
  });
});
