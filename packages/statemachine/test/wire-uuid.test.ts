/** wire.ts: the uuids of a frame header (sender incarnation, command id) as text and bytes. */
import { describe, it, expect } from 'vitest';
import { v4 as uuidv4, v7 as uuidv7 } from 'uuid';
import { decodeFrame, encodeFrame, encodeName, Kind } from '../src/wire.js';

const nameBytes = encodeName('uuid-test');
const frame = (incarnation: string, commandId?: string) =>
  encodeFrame({
    kind: Kind.command,
    incarnation,
    commandId,
    epoch: 3,
    nameBytes,
    body: new Uint8Array([0x7b, 0x7d]),
  });

describe('wire.ts: uuids in the header', () => {
  it('round-trip uuid text of either case (decoded in lower case)', () => {
    for (let k = 0; k < 500; k++) {
      const inc = k % 2 === 0 ? uuidv7() : uuidv4().toUpperCase();
      const id = uuidv7();
      const f = decodeFrame(frame(inc, id))!;
      expect(f.incarnation).toBe(inc.toLowerCase());
      expect(f.commandId).toBe(id);
    }
    expect(decodeFrame(frame(uuidv7()))!.commandId).toBeUndefined();
  });

  it('refuse malformed text', () => {
    const good = uuidv7();
    for (const bad of [
      '',
      'x'.repeat(36),
      good.replace('-', '0'),
      `${good.slice(0, 35)}g`,
      `${good}0`,
      `${good.replace(/-/g, '')}0000`,
      ` ${good.slice(1)}`,
    ])
      expect(() => frame(bad)).toThrow(TypeError);
    expect(() => frame(good, 'not-a-uuid')).toThrow(TypeError);
  });

  it('decode ids of many senders and counters (memoized) to the same text as a plain decode', () => {
    // more senders than the decoder remembers, each numbering its commands from one prefix
    const senders = Array.from({ length: 40 }, () => ({
      inc: uuidv7(),
      prefix: uuidv7().slice(0, 28),
    }));
    for (let k = 0; k < 2000; k++) {
      const s = senders[(k * 7) % senders.length]!;
      const id = s.prefix + ((k * 2654435761) % 2 ** 32).toString(16).padStart(8, '0');
      const f = decodeFrame(frame(s.inc, id))!;
      expect(f.incarnation).toBe(s.inc);
      expect(f.commandId).toBe(id);
    }
  });

  it('encode ids that share a prefix from its bytes, and still refuse a malformed counter', () => {
    const inc = uuidv7();
    const prefix = uuidv7().slice(0, 28);
    for (let k = 0; k < 300; k++) {
      const id = prefix + (k * 40503).toString(16).padStart(8, k % 2 === 0 ? '0' : 'F');
      expect(decodeFrame(frame(inc, id))!.commandId).toBe(id.toLowerCase());
    }
    // the prefix was written whole before: a bad counter or length still throws
    for (const bad of [
      `${prefix}0000000g`,
      `${prefix}0000-000`,
      `${prefix}0000000`,
      `${prefix}000000000`,
    ])
      expect(() => frame(inc, bad)).toThrow(TypeError);
    // and the incarnation's bytes, remembered, are those of the text (case kept apart)
    const upper = inc.toUpperCase();
    expect(decodeFrame(frame(upper, `${prefix}00000001`))!.incarnation).toBe(inc);
    expect(() => frame(`${inc.slice(0, 35)}x`)).toThrow(TypeError);
  });

  it('refuse a command id that is no uuid even when its first bytes were seen in a good one', () => {
    const inc = uuidv7();
    const ones = 'ffffffff-ffff-ffff-ffff-ffffffffffff';
    expect(decodeFrame(frame(inc, ones))!.commandId).toBe(ones);
    // all ones but the counter: neither a uuid version nor the all-ones uuid
    const bytes = frame(inc, ones);
    bytes[35] = 0x00;
    expect(decodeFrame(bytes)).toBeUndefined();
    // a good id, then the same first 12 bytes with a broken variant
    const good = frame(inc, uuidv7());
    expect(decodeFrame(good)).toBeDefined();
    good[28] = good[28]! & 0x3f;
    expect(decodeFrame(good)).toBeUndefined();
  });

  it('decode machine names (memoized) exactly, and refuse a name that is no UTF-8', () => {
    const inc = uuidv7();
    const named = (name: string) =>
      encodeFrame({
        kind: Kind.tick,
        incarnation: inc,
        epoch: 1,
        nameBytes: encodeName(name),
        body: new Uint8Array([0x7b, 0x7d]),
      });
    for (let k = 0; k < 100; k++) {
      const name = `machine-${k % 37}-é`;
      expect(decodeFrame(named(name))!.name).toBe(name);
    }
    const bad = named('machine-1-é');
    bad[41 + 'machine-1-'.length] = 0xff; // a byte that never occurs in UTF-8
    expect(decodeFrame(bad)).toBeUndefined();
  });
});
