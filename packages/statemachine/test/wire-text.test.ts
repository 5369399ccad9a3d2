import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import {
  Kind,
  decodeFrame,
  encodeFrame,
  encodeName,
  jsonBody,
  parseAckBody,
  parseCommandBody,
  parseJsonBody,
  utf8Text,
} from '../src/wire.js';

const fatal = new TextDecoder('utf-8', { fatal: true });

/** What a fatal `TextDecoder` says of `bytes`: its text, or `null` when it refuses them. */
function reference(bytes: Uint8Array): string | null {
  try {
    return fatal.decode(bytes);
  } catch {
    return null;
  }
}

function ours(bytes: Uint8Array, from = 0): string | null {
  try {
    return utf8Text(bytes, from);
  } catch {
    return null;
  }
}

const bytes = (...b: number[]): Uint8Array => Uint8Array.from(b);

describe('utf8Text reads a body as a fatal TextDecoder does', () => {
  it('refuses what the decoder refuses and keeps what it keeps (edge cases)', () => {
    const cases = [
      bytes(0x7b, 0x7d), // {}
      bytes(0xff), // never in UTF-8
      bytes(0xc0, 0xaf), // overlong '/'
      bytes(0xed, 0xa0, 0x80), // an encoded surrogate
      bytes(0x22, 0xe2, 0x82), // truncated at the end
      bytes(0xef, 0xbb, 0xbf, 0x7b, 0x7d), // a byte order mark: the decoder drops it
      bytes(0xef, 0xbb, 0xbf, 0xef, 0xbb, 0xbf), // two: it drops the first only
      bytes(0x22, 0xef, 0xbf, 0xbd, 0x22), // a real U+FFFD
      bytes(0x22, 0xef, 0xbf, 0xbd, 0xff, 0x22), // a real U+FFFD, then a malformed byte
      bytes(0xf4, 0x90, 0x80, 0x80), // past U+10FFFF
      bytes(0xf0, 0x9f, 0x98, 0x80), // 😀
      bytes(0x00, 0x41),
      bytes(),
    ];
    for (const c of cases) expect(ours(c), String([...c])).toBe(reference(c));
  });

  it('agrees with the decoder on any bytes, from any offset', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 40 }),
          fc.string({ unit: 'binary', maxLength: 20 }).map((s) => new TextEncoder().encode(s)),
          fc
            .tuple(fc.uint8Array({ maxLength: 8 }), fc.string({ unit: 'binary', maxLength: 8 }))
            .map(([b, s]) => Uint8Array.from([...b, ...new TextEncoder().encode(s), ...b])),
        ),
        fc.nat(6),
        (b, cut) => {
          const from = Math.min(cut, b.length);
          expect(ours(b, from)).toBe(reference(b.subarray(from)));
        },
      ),
      { numRuns: 800, seed: 15 },
    );
  });
});

describe('bodies parsed from the message at bodyAt', () => {
  const incarnation = '0190a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b';
  const frame = (kind: (typeof Kind)[keyof typeof Kind], body: Uint8Array): Uint8Array =>
    encodeFrame({ kind, incarnation, epoch: 3, nameBytes: encodeName('m'), body });

  it('give what the body on its own gives', () => {
    const cmd = { t: 5, c: { s: 'é€😀\uFFFD', n: [1, 2] } };
    const f = decodeFrame(frame(Kind.command, jsonBody(cmd)))!;
    expect(f.bodyAt).toBe(42);
    expect(parseCommandBody(f.data, f.bodyAt)).toEqual(cmd);
    expect(parseCommandBody(f.data, f.bodyAt)).toEqual(parseCommandBody(f.body));
    const ack = decodeFrame(frame(Kind.ack, jsonBody({ i: '7', r: 'x', d: '6', f: 1 })))!;
    expect(parseAckBody(ack.data, ack.bodyAt)).toEqual({ i: 7n, r: 'x', d: 6n, f: true });
  });

  it('refuse malformed UTF-8 and accept a byte order mark, as before', () => {
    const bad = decodeFrame(frame(Kind.command, bytes(0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d)))!;
    expect(parseCommandBody(bad.data, bad.bodyAt)).toBeUndefined();
    const bom = [0xef, 0xbb, 0xbf, ...jsonBody({ t: 1, c: 2 })];
    const f = decodeFrame(frame(Kind.command, Uint8Array.from(bom)))!;
    expect(parseCommandBody(f.data, f.bodyAt)).toEqual({ t: 1, c: 2 });
    expect(parseJsonBody(Uint8Array.from([0xef, 0xbb, 0xbf, 0xef, 0xbb, 0xbf, 0x31]))).toBe(
      undefined,
    );
  });
});
