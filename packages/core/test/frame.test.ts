import fc from 'fast-check';
import { describe, it, expect } from 'vitest';
import {
  CHUNK_HEADER_SIZE,
  batchCount,
  chunkHeader,
  encodePayload,
  frameKind,
  parseChunk,
  readU32,
  startsWithMagic,
} from '../src/frame.js';
import { FrameDecoder } from '../src/frame-decoder.js';
import type { MemberId } from '../src/types.js';
import { runsFromEnv, seedFromEnv } from '../../../test/seeded.js';

const enc = new TextEncoder();
const A: MemberId = { nodeid: 1, pid: 100 };
const B: MemberId = { nodeid: 2, pid: 200 };

function decoder(limit = 1 << 20): { d: FrameDecoder; got: string[]; raw: Uint8Array[] } {
  const got: string[] = [];
  const raw: Uint8Array[] = [];
  const d = new FrameDecoder((s, data) => {
    got.push(`${s.nodeid}:${Buffer.from(data).toString('latin1')}`);
    raw.push(data);
  }, limit);
  return { d, got, raw };
}

describe('frame format', () => {
  it('sends a lone message raw, and wraps one that starts with the magic', () => {
    const plain = enc.encode('hello');
    expect(encodePayload([plain])).toBe(plain);
    const magic = new Uint8Array([0xff, 0x63, 0x70, 0x67, 1]);
    const wrapped = encodePayload([magic]);
    expect(frameKind(wrapped)).toBe(1);
    expect(batchCount(wrapped)).toBe(1);
    const { d, raw } = decoder();
    d.decode(A, wrapped);
    expect([...raw[0]!]).toEqual([...magic]);
  });

  it('decodes a batch into consecutive messages of the same sender', () => {
    const payload = encodePayload([enc.encode('a'), enc.encode(''), enc.encode('ccc')]);
    const { d, got } = decoder();
    d.decode(A, payload);
    expect(got).toEqual(['1:a', '1:', '1:ccc']);
  });

  it('delivers anything that is not a valid frame as one raw message', () => {
    const cases = [
      new Uint8Array([0xff, 0x63, 0x70]), // too short
      new Uint8Array([0xff, 0x63, 0x70, 0x67, 2, 1, 1, 0, 0, 0, 9]), // other version
      new Uint8Array([0xff, 0x63, 0x70, 0x67, 1, 7]), // unknown kind
      new Uint8Array([0xff, 0x63, 0x70, 0x67, 1, 1]), // empty batch
      new Uint8Array([0xff, 0x63, 0x70, 0x67, 1, 1, 5, 0, 0, 0, 1]), // entry overruns
      new Uint8Array([0xff, 0x63, 0x70, 0x67, 1, 1, 1, 0, 0, 0, 1, 9]), // trailing byte
      new Uint8Array([0xff, 0x63, 0x70, 0x67, 1, 2, 0, 0]), // chunk too short
      new Uint8Array(0),
    ];
    for (const c of cases) {
      const { d, raw } = decoder();
      d.decode(A, c);
      expect(raw.map((r) => [...r])).toEqual([[...c]]);
    }
  });

  it('never hands out the caller’s buffer (data is copied)', () => {
    const buf = enc.encode('mutable');
    const { d, raw } = decoder();
    d.decode(A, buf);
    buf[0] = 0;
    expect(Buffer.from(raw[0]!).toString()).toBe('mutable');
  });

  it('reassembles chunks per sender, delivered at the last piece', () => {
    const payload = new Uint8Array(1000).map((_, i) => i & 0xff);
    const piece = (id: number, off: number, n: number): Uint8Array => {
      const h = chunkHeader(id, payload.length, off);
      const out = new Uint8Array(CHUNK_HEADER_SIZE + n);
      out.set(h);
      out.set(payload.subarray(off, off + n), CHUNK_HEADER_SIZE);
      return out;
    };
    expect(parseChunk(piece(3, 0, 400))).toEqual({ id: 3, total: 1000, offset: 0 });
    const { d, raw, got } = decoder();
    d.decode(A, piece(3, 0, 400));
    d.decode(B, enc.encode('between'));
    d.decode(A, piece(3, 400, 400));
    expect(got).toEqual(['2:between']);
    d.decode(A, piece(3, 800, 200));
    expect(raw).toHaveLength(2);
    expect([...raw[1]!]).toEqual([...payload]);
  });

  it('drops a partial payload whose sender left, and pieces without a beginning', () => {
    const payload = new Uint8Array(10).fill(7);
    const mk = (off: number, n: number): Uint8Array => {
      const out = new Uint8Array(CHUNK_HEADER_SIZE + n);
      out.set(chunkHeader(1, 10, off));
      out.set(payload.subarray(off, off + n), CHUNK_HEADER_SIZE);
      return out;
    };
    const { d, raw } = decoder();
    d.decode(A, mk(0, 5));
    d.dropSender(A);
    d.decode(A, mk(5, 5));
    expect(raw).toHaveLength(0);
    expect(d.stats.droppedPieces).toBe(2);
  });

  it('treats a chunk bigger than the receiver’s limit as raw bytes', () => {
    const c = new Uint8Array(CHUNK_HEADER_SIZE + 1);
    c.set(chunkHeader(0, 5000, 0));
    const { d, raw } = decoder(100);
    d.decode(A, c);
    expect(raw).toHaveLength(1);
    expect(startsWithMagic(raw[0]!)).toBe(true);
  });

  describe('foreign messages (not written by cpgkit)', () => {
    const MAGIC = [0xff, 0x63, 0x70, 0x67];
    /** Foreign bytes shaped like a chunk frame: magic, v1, kind 2, id, total, offset, piece. */
    const lookAlike = (id: number, total: number, offset: number, piece: number[]): Uint8Array => {
      const out = new Uint8Array(CHUNK_HEADER_SIZE + piece.length);
      out.set(chunkHeader(id, total, offset));
      out.set(piece, CHUNK_HEADER_SIZE);
      return out;
    };

    /** What the documented rule says: the message is taken as a frame (not delivered raw). */
    function validFrameHeader(data: Uint8Array, limit: number): boolean {
      const kind = frameKind(data);
      if (kind === 1) return batchCount(data) > 0;
      if (kind === 2) {
        const h = parseChunk(data);
        return h !== undefined && h.total <= limit;
      }
      return false;
    }

    it('a chunk look-alike that continues nothing is dropped; the next plain message still arrives', () => {
      const { d, raw } = decoder();
      d.decode(A, lookAlike(7, 100, 40, [1, 2, 3])); // a "middle piece" with no beginning
      d.decode(A, enc.encode('plain'));
      expect(raw.map((r) => Buffer.from(r).toString())).toEqual(['plain']);
      expect(d.stats.droppedPieces).toBe(1);
      expect(d.stats.raw).toBe(1);
    });

    it('a chunk look-alike at offset 0 is held (dropped when its sender leaves); a whole one is delivered', () => {
      const { d, raw } = decoder();
      d.decode(A, lookAlike(1, 10, 0, [1, 2, 3])); // says 7 more bytes follow: held
      expect(raw).toHaveLength(0);
      d.dropSender(A);
      expect(d.stats.droppedPieces).toBe(1);
      d.decode(A, lookAlike(2, 3, 0, [9, 8, 7])); // total == its own piece: a whole payload
      expect(raw.map((r) => [...r])).toEqual([[9, 8, 7]]);
    });

    it('magic bytes without a valid header are raw, byte for byte', () => {
      const limit = 1000;
      const cases = [
        lookAlike(1, 2, 0, [1, 2, 3]), // piece longer than its total
        lookAlike(1, 10, 9, [1, 2]), // piece runs past its total
        lookAlike(1, limit + 1, 0, [1]), // total above the receiver's limit
        new Uint8Array([...MAGIC, 1, 2, ...new Array<number>(12).fill(0)]), // 18 bytes: no piece
        new Uint8Array([...MAGIC, 1, 1, 3, 0, 0, 0, 0x61, 0x62]), // batch entry overruns
      ];
      for (const c of cases) {
        const { d, raw } = decoder(limit);
        d.decode(A, c);
        expect(raw.map((r) => [...r])).toEqual([[...c]]);
        expect(d.stats.droppedPieces).toBe(0);
      }
    });

    it('a batch look-alike (magic, v1, kind 1, lengths that add up) is split into its entries', () => {
      const look = new Uint8Array([...MAGIC, 1, 1, 1, 0, 0, 0, 0x61, 2, 0, 0, 0, 0x62, 0x63]);
      const { d, got } = decoder();
      d.decode(A, look);
      expect(got).toEqual(['1:a', '1:bc']);
    });

    it('property: any bytes never throw; those without magic + valid header arrive once, unchanged', () => {
      const limit = 4096;
      const header = fc.tuple(
        fc.constantFrom(0, 1, 2, 3), // version
        fc.constantFrom(0, 1, 2, 9), // kind
      );
      const bytes = fc.oneof(
        fc.uint8Array({ maxLength: 64 }),
        // magic + a header, then anything: exercises every validity check
        fc
          .tuple(header, fc.uint8Array({ maxLength: 64 }))
          .map(([[v, k], rest]) => new Uint8Array([...MAGIC, v, k, ...rest])),
        // chunk look-alikes with small, plausible numbers
        fc
          .tuple(fc.nat(3), fc.nat(80), fc.nat(80), fc.uint8Array({ minLength: 0, maxLength: 40 }))
          .map(([id, total, off, piece]) => lookAlike(id, total, off, [...piece])),
      );
      fc.assert(
        fc.property(fc.array(fc.tuple(fc.boolean(), bytes), { maxLength: 12 }), (msgs) => {
          const got: Uint8Array[] = [];
          const d = new FrameDecoder((_s, data) => got.push(data), limit);
          for (const [fromB, data] of msgs) {
            const before = got.length;
            d.decode(fromB ? B : A, data);
            if (!validFrameHeader(data, limit)) {
              expect(got.length).toBe(before + 1);
              expect([...got[before]!]).toEqual([...data]);
            } else if (frameKind(data) === 1) {
              expect(got.length).toBe(before + batchCount(data));
            } else {
              // a chunk: at most the payload it completes (or its entries when a batch)
              expect(got.length - before).toBeLessThanOrEqual(Math.max(1, readU32(data, 10)));
            }
          }
        }),
        { numRuns: runsFromEnv(500), seed: seedFromEnv(20261125) },
      );
    });
  });
});
