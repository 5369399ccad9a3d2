import { describe, it, expect } from 'vitest';
import { renderChart } from '../src/chart.js';
import { toDistribution } from '../src/report.js';

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
