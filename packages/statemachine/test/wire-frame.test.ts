import { describe, it, expect } from 'vitest';
import {
  MAX_BODY_DEPTH,
  bodyStart,
  decodeFrame,
  encodeFrame,
  encodeJsonFrame,
  encodeName,
  jsonBody,
  jsonDepthWithin,
  Kind,
  parseCommandBody,
} from '../src/wire.js';

const incarnation = '0190a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b';

describe('frames from the buffer pool', () => {
  it('round-trip every byte of the header (the epoch over the whole u32 range) and the body', () => {
    const frames: Uint8Array[] = [];
    for (const epoch of [0, 1, 255, 256, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff]) {
      const body = jsonBody({ t: epoch, c: { s: 'é€😀', n: [1, 2n] } });
      const f = encodeFrame({
        kind: Kind.command,
        incarnation,
        epoch,
        nameBytes: encodeName('m'),
        body,
      });
      frames.push(f);
      // a plain Uint8Array, not a Buffer (equality and `instanceof` as before)
      expect(f.constructor).toBe(Uint8Array);
      expect(body.constructor).toBe(Uint8Array);
      const d = decodeFrame(f)!;
      expect(d).toMatchObject({
        kind: Kind.command,
        incarnation,
        commandId: undefined,
        epoch,
        name: 'm',
      });
      expect(new TextDecoder().decode(d.body)).toBe(`{"t":${epoch},"c":{"s":"é€😀","n":[1,"2"]}}`);
    }
    // frames sharing a pool slab do not overwrite each other
    expect(frames.map((f) => decodeFrame(f)!.epoch)).toEqual([
      0, 1, 255, 256, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff,
    ]);
  });
});

describe('a frame whose body is written as JSON straight into it', () => {
  it('is encodeFrame of jsonBody, byte for byte (bigints, non-ASCII, names and ids of every length)', () => {
    const values: unknown[] = [
      { t: 1, c: { compares: [], ops: [{ op: 'set', key: 'tp/0/1/2', value: { n: 1 } }] } },
      { t: 0, c: { s: 'é€😀\u0000"\\', n: [1, 2n, -0, 1e21, null, true] } },
      { r: 'x'.repeat(5000) },
      {},
    ];
    for (const value of values)
      for (const name of ['m', 'é'.repeat(127), 'n'.repeat(255)])
        for (const commandId of [undefined, '0190a1b2-c3d4-7e5f-8a6b-00000000002a']) {
          const input = {
            kind: Kind.command,
            incarnation,
            commandId,
            epoch: 0xfffffffe,
            nameBytes: encodeName(name),
          };
          const body = jsonBody(value);
          const direct = encodeJsonFrame(input, value);
          expect(direct.constructor).toBe(Uint8Array);
          expect(Buffer.from(direct).equals(Buffer.from(encodeFrame({ ...input, body })))).toBe(
            true,
          );
          expect(Buffer.from(direct.subarray(bodyStart(direct))).equals(Buffer.from(body))).toBe(
            true,
          );
          expect(decodeFrame(direct)).toMatchObject({ name, commandId, epoch: 0xfffffffe });
        }
  });
});

describe('the depth bound of a command body', () => {
  const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
  const nested = (d: number): string => `{"t":1,"c":${'['.repeat(d - 1)}${']'.repeat(d - 1)}}`;

  it('refuses a body nested one level too deep, short or long, and accepts the deepest allowed', () => {
    // the body's own object is one level: commands may nest MAX_BODY_DEPTH levels
    expect(parseCommandBody(bytes(nested(MAX_BODY_DEPTH + 1)))).toBeDefined();
    expect(parseCommandBody(bytes(nested(MAX_BODY_DEPTH + 2)))).toBeUndefined();
    expect(jsonDepthWithin(bytes(nested(MAX_BODY_DEPTH + 2)), MAX_BODY_DEPTH + 1)).toBe(false);
    const padded = `{"t":1,"p":"${'x'.repeat(300)}","c":${'['.repeat(MAX_BODY_DEPTH + 1)}${']'.repeat(MAX_BODY_DEPTH + 1)}}`;
    expect(parseCommandBody(bytes(padded))).toBeUndefined();
  });

  it("scans a whole frame's body from its start, not the header's bytes before it", () => {
    // every header byte of this incarnation is `{` (0x7b) where a uuid allows it
    const frame = encodeJsonFrame(
      {
        kind: Kind.command,
        incarnation: '7b7b7b7b-7b7b-7b7b-bb7b-7b7b7b7b7b7b',
        epoch: 0x7b7b7b7b,
        nameBytes: encodeName('{{{{'),
      },
      { t: 1, p: 'x'.repeat(300), c: (JSON.parse(nested(MAX_BODY_DEPTH + 1)) as { c: unknown }).c },
    );
    expect(jsonDepthWithin(frame, MAX_BODY_DEPTH + 1, bodyStart(frame))).toBe(true);
    expect(jsonDepthWithin(frame, MAX_BODY_DEPTH + 1)).toBe(false);
    const deeper = encodeJsonFrame(
      { kind: Kind.command, incarnation, epoch: 0, nameBytes: encodeName('m') },
      { t: 1, p: 'x'.repeat(300), c: (JSON.parse(nested(MAX_BODY_DEPTH + 2)) as { c: unknown }).c },
    );
    expect(jsonDepthWithin(deeper, MAX_BODY_DEPTH + 1, bodyStart(deeper))).toBe(false);
  });

  it('skips the scan for short text, which the parse then refuses when it is not JSON', () => {
    const open = '{"t":1,"c":' + '['.repeat(MAX_BODY_DEPTH + 5);
    expect(open.length).toBeLessThan(2 * (MAX_BODY_DEPTH + 2));
    expect(jsonDepthWithin(bytes(open), MAX_BODY_DEPTH + 1)).toBe(true);
    expect(parseCommandBody(bytes(open))).toBeUndefined();
  });
});
