/**
 * A snapshot on the wire (wire version 6): compressed segments (snapshot-segments.ts) cut into
 * chunks that the leader yields while it writes them (snapshot-transfer.ts). What the chunks
 * carry reads back to the leader's image, digest included, whatever the chunk size and
 * wherever a slice ends; bytes cut short, lying or garbled are refused with a
 * `MalformedSnapshotError`, never half-applied.
 */
import { describe, it, expect } from 'vitest';
import { deflateRawSync } from 'node:zlib';
import { SEGMENT_TEXT_BYTES, SegmentReader, segmentOf } from '../src/snapshot-segments.js';
import {
  SnapshotReceiver,
  readSnapshot,
  snapshotChunks,
  type SnapshotChunk,
} from '../src/snapshot-transfer.js';
import { MalformedSnapshotError } from '../src/snapshot-text.js';
import { SliceClock } from '../src/slices.js';
import { imageDigest, serializeImage, type Image } from '../src/image.js';
import { DEFAULT_LIMITS, emptyMap, type MapOp } from '../src/map/state.js';
import { reduceTxn } from '../src/map/reduce-txn.js';
import { imageOf } from './helpers.js';

/** A store of `n` keys, written in transactions of 5,000 as the bench loads it. */
function store(n: number, value: (i: number) => string): ReturnType<typeof emptyMap> {
  let s = emptyMap();
  for (let at = 0; at < n; at += 5000) {
    const ops: MapOp[] = [];
    for (let i = at; i < Math.min(n, at + 5000); i++)
      ops.push({ op: 'set', key: `r/${String(i).padStart(7, '0')}`, value: value(i) });
    s = reduceTxn(s, { compares: [], ops }, DEFAULT_LIMITS).state;
  }
  return s;
}

/** A slice clock whose every slice ends after one line (the most slice ends possible). */
class EveryLine extends SliceClock {
  override due(): boolean {
    return true;
  }
  override next(): Promise<void> {
    return Promise.resolve();
  }
}

async function chunksOf(
  image: Image<unknown>,
  size: number,
  clock?: SliceClock,
): Promise<SnapshotChunk[]> {
  const out: SnapshotChunk[] = [];
  for await (const c of snapshotChunks(image, size, () => false, clock)) out.push(c);
  return out;
}

async function receive<S>(chunks: readonly Uint8Array[]): Promise<Image<S> | undefined> {
  const receiver = new SnapshotReceiver<S>(() => false);
  for (const [i, c] of chunks.entries()) {
    receiver.push(i, c);
    await new Promise((r) => setImmediate(r));
  }
  return receiver.image();
}

describe('snapshot-segments.ts', () => {
  it('reads segments back from bytes cut anywhere, a UTF-8 character cut in two included', () => {
    const text = Buffer.from('first line\nsecond é line\n\nlast\n'.repeat(3000), 'utf8');
    const segs = [];
    for (let at = 0; at < text.length; at += 1000)
      segs.push(segmentOf(text.subarray(at, at + 1000)));
    const stream = Buffer.concat(segs);
    const reader = new SegmentReader();
    const texts: Buffer[] = [];
    for (let at = 0; at < stream.length; at += 7) {
      reader.push(stream.subarray(at, at + 7));
      for (let t = reader.next(); t !== undefined; t = reader.next()) texts.push(t);
    }
    reader.end();
    expect(Buffer.concat(texts).equals(text)).toBe(true);
  });

  it('refuses a lying length, bytes that do not inflate, a bomb and a cut stream', () => {
    const seg = segmentOf(Buffer.from('hello\n'));
    const lying = Buffer.from(seg);
    lying.writeUInt32BE(1 << 30, 0);
    const zero = Buffer.alloc(8);
    const garbage = Buffer.concat([
      Buffer.from([0, 0, 0, 4]),
      Buffer.from([0xff, 0xff, 0xff, 0xff]),
    ]);
    const z = deflateRawSync(Buffer.alloc(SEGMENT_TEXT_BYTES + 1));
    const bomb = Buffer.concat([Buffer.from([0, 0, 0, 0]), z]);
    bomb.writeUInt32BE(z.length, 0);
    for (const bad of [lying, zero, garbage, bomb]) {
      const r = new SegmentReader();
      r.push(bad);
      expect(() => r.next()).toThrow(MalformedSnapshotError);
    }
    const cut = new SegmentReader();
    cut.push(seg.subarray(0, seg.length - 1));
    expect(cut.next()).toBeUndefined();
    expect(() => cut.end()).toThrow(MalformedSnapshotError);
    expect(() => segmentOf(Buffer.alloc(SEGMENT_TEXT_BYTES + 1))).toThrow(RangeError);
  });
});

describe('snapshot-transfer.ts', () => {
  it('cuts a snapshot into chunks of at most the size, the last one marked, and reads it back', async () => {
    const image = imageOf(store(20_000, (i) => `value ${i} é`));
    for (const size of [1024, 64 * 1024, 1 << 20]) {
      const chunks = await chunksOf(image, size);
      expect(chunks.every((c) => c.bytes.length <= size)).toBe(true);
      expect(chunks.map((c) => c.last)).toEqual(chunks.map((_, i) => i === chunks.length - 1));
      const back = await receive<unknown>(chunks.map((c) => c.bytes));
      expect(serializeImage(back!)).toBe(serializeImage(image));
      expect(imageDigest(back!)).toBe(imageDigest(image));
    }
  });

  it('sends partial chunks at the end of slices, before the whole text is written', async () => {
    const image = imageOf(store(20_000, (i) => `v${i}`));
    const size = 1 << 20;
    const chunks = await chunksOf(image, size, new EveryLine());
    const early = chunks.filter((c) => !c.last);
    expect(early.length).toBeGreaterThan(3);
    expect(early.every((c) => c.bytes.length >= 16 * 1024 && c.bytes.length <= size)).toBe(true);
    const back = await readSnapshot<unknown>(
      chunks.map((c) => c.bytes),
      () => false,
    );
    expect(imageDigest(back!)).toBe(imageDigest(image));
  });

  it('a joiner of a 100,000-key store ends with the leader digest', async () => {
    const image = imageOf(store(100_000, () => 'v'.repeat(64)));
    const chunks = await chunksOf(image, 512 * 1024);
    // compressed: the 15 MB of text take about 0.9 MB
    expect(chunks.reduce((n, c) => n + c.bytes.length, 0)).toBeLessThan(2 << 20);
    const back = await receive<unknown>(chunks.map((c) => c.bytes));
    expect(imageDigest(back!)).toBe(imageDigest(image));
  }, 120_000);

  it('refuses bytes cut short or garbled with a MalformedSnapshotError', async () => {
    const image = imageOf(store(3000, (i) => `v${i}`));
    const all = Buffer.concat((await chunksOf(image, 1 << 20)).map((c) => c.bytes));
    const truncated = [all.subarray(0, all.length - 3)];
    await expect(receive(truncated)).rejects.toBeInstanceOf(MalformedSnapshotError);
    const lastSegmentCut = [all.subarray(0, all.length - 1), Buffer.alloc(0)];
    await expect(receive(lastSegmentCut)).rejects.toBeInstanceOf(MalformedSnapshotError);
    const garbled = Buffer.from(all);
    garbled.writeUInt32BE(0, 0);
    await expect(receive([garbled])).rejects.toBeInstanceOf(MalformedSnapshotError);
    // a whole segment missing at the end: the lines stop early, the image is incomplete
    const plain = Buffer.concat([segmentOf(Buffer.from('{"epoch":1}\n'))]);
    await expect(receive([plain])).rejects.toBeInstanceOf(MalformedSnapshotError);
    // text that is not the snapshot's lines
    await expect(receive([segmentOf(Buffer.from('not json\n'))])).rejects.toBeInstanceOf(
      MalformedSnapshotError,
    );
    // a stopped receiver gives nothing, and a gap makes it give up
    const stopped = new SnapshotReceiver(() => true);
    stopped.push(0, all);
    expect(await stopped.image()).toBeUndefined();
    const gap = new SnapshotReceiver(() => false);
    gap.push(0, all.subarray(0, 10));
    gap.push(2, all.subarray(20));
    expect(gap.broken).toBe(true);
  });
});
