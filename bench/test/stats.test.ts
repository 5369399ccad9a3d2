import { describe, it, expect } from 'vitest';
import * as hdr from 'hdr-histogram-js';
import { distribution, percentile, sortedSamples, summarize } from '../src/stats.js';

describe('percentile (nearest rank)', () => {
  it('gives textbook values on small sets', () => {
    const s = [15, 20, 35, 40, 50];
    expect(percentile(s, 5)).toBe(15);
    expect(percentile(s, 30)).toBe(20);
    expect(percentile(s, 40)).toBe(20);
    expect(percentile(s, 50)).toBe(35);
    expect(percentile(s, 100)).toBe(50);
    expect(percentile(s, 0)).toBe(15);
    expect(percentile([1, 2, 3, 4], 50)).toBe(2);
    expect(percentile([7], 99.9)).toBe(7);
  });

  it('places p99 and p99.9 of 1..1000 exactly', () => {
    const s = Array.from({ length: 1000 }, (_, i) => i + 1);
    expect(percentile(s, 99)).toBe(990);
    expect(percentile(s, 99.9)).toBe(999);
    expect(percentile(s, 50)).toBe(500);
  });

  it('sorts numerically, not as strings', () => {
    expect(sortedSamples([10, 9, 100, 1.5])).toEqual([1.5, 9, 10, 100]);
  });

  it('rejects bad input', () => {
    expect(() => percentile([], 50)).toThrow(RangeError);
    expect(() => percentile([1], 101)).toThrow(RangeError);
    expect(() => percentile([1], Number.NaN)).toThrow(RangeError);
    expect(() => sortedSamples([1, Number.NaN])).toThrow(RangeError);
  });

  it('agrees with an HDR histogram (3 significant digits) on skewed random data', () => {
    let seed = 42;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    // log-normal-ish latencies in microseconds, 100 us .. seconds
    const us = Array.from(
      { length: 50_000 },
      () => Math.round(100 * Math.exp(4 * rand() ** 3)) + 1,
    );
    const h = hdr.build({
      lowestDiscernibleValue: 1,
      highestTrackableValue: 10_000_000,
      numberOfSignificantValueDigits: 3,
    });
    for (const x of us) h.recordValue(x);
    const s = sortedSamples(us);
    for (const p of [50, 90, 99, 99.9]) {
      const exact = percentile(s, p);
      const approx = h.getValueAtPercentile(p);
      expect(Math.abs(approx - exact) / exact).toBeLessThan(0.002);
    }
  });

  it('summarizes and builds a monotone distribution', () => {
    const samples = [5, 1, 3, 2, 4];
    const sum = summarize(samples);
    expect(sum).toMatchObject({ count: 5, min: 1, max: 5, p50: 3, mean: 3 });
    const d = distribution(samples);
    for (let i = 1; i < d.length; i++) expect(d[i]!.ms).toBeGreaterThanOrEqual(d[i - 1]!.ms);
    expect(d.at(-1)).toEqual({ percentile: 100, ms: 5 });
  });
});

describe('report ratios', () => {
  it('is cpgkit ÷ peer and knows which way is better', async () => {
    const { ratio, cpgkitAhead, toMarkdown } = await import('../src/report.js');
    const rate = {
      section: 's',
      figure: 'f',
      variant: 'v',
      unit: 'ops/s',
      better: 'higher' as const,
      peer: 'etcd',
      cpgkit: 300,
      peerValue: 100,
    };
    const lat = { ...rate, unit: 'ms', better: 'lower' as const, cpgkit: 2, peerValue: 8 };
    expect(ratio(rate)).toBe(3);
    expect(cpgkitAhead(rate)).toBe(true);
    expect(ratio(lat)).toBe(0.25);
    expect(cpgkitAhead(lat)).toBe(true);
    expect(cpgkitAhead({ ...lat, cpgkit: 16 })).toBe(false);
    expect(ratio({ ...rate, cpgkit: undefined })).toBeUndefined();
    const md = toMarkdown({
      title: 't',
      startedAt: 'x',
      mode: 'quick',
      command: 'c',
      environment: {},
      notes: [],
      rows: [rate, lat, { ...lat, cpgkit: 16 }],
      distributions: [],
      details: {},
      problems: [],
    });
    expect(md).toContain('**3.00x** (3.00x better)');
    expect(md).toContain('**0.25x** (4.00x better)');
    expect(md).toContain('2.00x (2.00x worse)');
  });
});
