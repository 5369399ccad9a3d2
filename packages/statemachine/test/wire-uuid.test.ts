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
});
