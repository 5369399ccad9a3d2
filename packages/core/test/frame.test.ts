import { describe, it, expect } from 'vitest';
import {
  CHUNK_HEADER_SIZE,
  batchCount,
  chunkHeader,
  encodePayload,
  frameKind,
  parseChunk,
  startsWithMagic,
} from '../src/frame.js';
import { FrameDecoder } from '../src/frame-decoder.js';
import type { MemberId } from '../src/types.js';

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
});
