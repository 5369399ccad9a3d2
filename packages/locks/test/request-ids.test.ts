import { describe, it, expect } from 'vitest';
import { validate, version } from 'uuid';
import { requestId } from '../src/request-ids.js';

describe('requestId', () => {
  it('gives distinct uuid v7s across refills of its random pool', () => {
    const ids = Array.from({ length: 1000 }, () => requestId());
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) {
      expect(validate(id)).toBe(true);
      expect(version(id)).toBe(7);
    }
    // time-ordered to the millisecond: the first 48 bits are the time
    const ms = (id: string) => parseInt(id.replace(/-/g, '').slice(0, 12), 16);
    expect(Math.abs(ms(ids[999]!) - Date.now())).toBeLessThan(60_000);
  });
});
