/**
 * A snapshot's text (snapshot-text.ts) and its reading across chunks (snapshot-transfer.ts):
 * the image read back equals `JSON.parse(JSON.stringify(image))`, key order and digest
 * included, whatever the state's shape; a large state takes many short lines; malformed
 * lines are refused. And the delivery hold (delivery-hold.ts) replays events in order.
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { MalformedSnapshotError, SnapshotReader, snapshotLines } from '../src/snapshot-text.js';
import { PIECE_MEMBERS, jsonPieces, membersLeft } from '../src/json-pieces.js';
import { SnapshotReceiver, readSnapshot, snapshotBytes } from '../src/snapshot-transfer.js';
import { imageDigest, serializeImage, parseImage, type Image } from '../src/image.js';
import { DEFAULT_LIMITS, emptyMap, type MapOp } from '../src/map/state.js';
import { reduceTxn } from '../src/map/reduce-txn.js';
import { DeliveryHold } from '../src/delivery-hold.js';
import { imageOf as baseImageOf } from './helpers.js';

/** helpers.ts's image, with an index past 2^63 and a replica gone. */
function imageOf<S>(state: S): Image<S> {
  return baseImageOf(state, { index: 12345678901234567890n, gone: ['r3'] });
}

function read<S>(lines: Iterable<string>): Image<S> {
  const r = new SnapshotReader<S>();
  for (const l of lines) r.line(l);
  return r.image();
}

/** A store of `n` keys, as the config store builds it. */
function store(n: number): ReturnType<typeof emptyMap> {
  const ops: MapOp[] = Array.from({ length: n }, (_, i) => ({
    op: 'set',
    key: `key/${i}`,
    value: { n: i, tags: ['a', 'b'] },
  }));
  return reduceTxn(emptyMap(), { compares: [], ops }, DEFAULT_LIMITS).state;
}

describe('snapshot-text.ts', () => {
  it('reads back any JSON state as JSON.parse of its JSON, key order included', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (state) => {
        const image = imageOf(state);
        const back = read(snapshotLines(image));
        expect(serializeImage(back)).toBe(serializeImage(image));
        expect(imageDigest(back)).toBe(imageDigest(parseImage(serializeImage(image))));
      }),
      { numRuns: 200 },
    );
  });

  it('writes a large state in many lines, none over the member budget, and reads it back', async () => {
    const state = store(5000);
    const image = imageOf(state);
    const lines = [...snapshotLines(image)];
    expect(lines.length).toBeGreaterThan(100);
    for (const l of lines.slice(1))
      expect(membersLeft((JSON.parse(l) as unknown[])[2], PIECE_MEMBERS)).toBeGreaterThanOrEqual(0);
    const bytes = await snapshotBytes(image, () => false);
    // cut into uneven chunks, as the wire would
    const all = Buffer.concat(bytes!.blocks);
    const parts = [all.subarray(0, 7), all.subarray(7, 70_001), all.subarray(70_001)];
    const back = await readSnapshot<typeof state>(parts, () => false);
    expect(serializeImage(back!)).toBe(serializeImage(image));
    expect(imageDigest(back!)).toBe(imageDigest(image));
  });

  it('reads while the chunks arrive, gives up on a chunk out of order, and throws on a bad line', async () => {
    const image = imageOf(store(5000));
    const all = Buffer.concat((await snapshotBytes(image, () => false))!.blocks);
    const cuts = [0, 5, 60_000, 60_001, 200_000, all.length];
    const chunks = cuts.slice(1).map((end, i) => all.subarray(cuts[i], end));
    const receiver = new SnapshotReceiver<typeof image.state>(() => false);
    for (const [i, c] of chunks.entries()) {
      receiver.push(i, c);
      // a turn between chunks, as deliveries come
      await new Promise((r) => setImmediate(r));
    }
    expect(receiver.broken).toBe(false);
    const back = await receiver.image();
    expect(serializeImage(back!)).toBe(serializeImage(image));
    expect(imageDigest(back!)).toBe(imageDigest(image));

    const gap = new SnapshotReceiver(() => false);
    gap.push(0, chunks[0]!);
    gap.push(2, chunks[2]!);
    expect(gap.broken).toBe(true);

    const bad = new SnapshotReceiver(() => false);
    bad.push(0, Buffer.from('{"epoch":1}\n'));
    await expect(bad.image()).rejects.toBeInstanceOf(MalformedSnapshotError);

    const stopped = new SnapshotReceiver(() => true);
    stopped.push(0, all);
    expect(await stopped.image()).toBeUndefined();
  });

  it('skips undefined and function members as JSON does, and keeps a member named __proto__', () => {
    const big = Object.fromEntries(Array.from({ length: 3000 }, (_, i) => [`k${i}`, i]));
    const state = JSON.parse(`{"__proto__":{"x":1},"a":[1,null,3]}`) as Record<string, unknown>;
    Object.assign(state, {
      big,
      u: undefined,
      f: () => 1,
      arr: Array.from({ length: 3000 }, (_, i) => i),
    });
    (state.arr as unknown[])[5] = undefined;
    const back = read<Record<string, unknown>>(snapshotLines(imageOf(state)));
    expect(JSON.stringify(back.state)).toBe(JSON.stringify(state));
    expect(Object.hasOwn(back.state, '__proto__')).toBe(true);
    expect(Object.getPrototypeOf(back.state)).toBe(Object.prototype);
    expect(Object.hasOwn(back.state, 'u')).toBe(false);
  });

  it('refuses malformed lines and incomplete texts', () => {
    const meta = [...snapshotLines(imageOf(1))][0]!;
    const bad = [
      ['not json'],
      ['[0,null,1]'], // no metadata first
      [meta, '{"a":1}'],
      [meta, '[1,"k",1]'], // depth 1 without an open container
      [meta, '[0,"k",1]'], // the state has no key
      [meta, '[0,null,{},1]', '[1,2,3]'], // an object's member needs a string key
      [meta, '[0,null,[],1]', '[1,1,3]'], // an array's members in order
      [meta, '[0,null,{"a":1},1]'], // an opened container is empty
      [meta, '[0,null,1]', '[0,null,2]'], // one state
      [meta], // no state
    ];
    for (const lines of bad) expect(() => read(lines)).toThrow(MalformedSnapshotError);
  });
});

describe('json-pieces.ts', () => {
  it('joins to JSON.stringify of the value, which takes many pieces when large', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        expect([...jsonPieces(v)].join('')).toBe(JSON.stringify(v));
      }),
      { numRuns: 200 },
    );
    const state = store(5000) as unknown as Record<string, unknown>;
    const withHoles = { ...state, u: undefined, list: [1, undefined, () => 2, { a: 1 }] };
    const pieces = [...jsonPieces(withHoles)];
    expect(pieces.length).toBeGreaterThan(100);
    expect(pieces.join('')).toBe(JSON.stringify(withHoles));
  });
});

describe('delivery-hold.ts', () => {
  it('runs events at once, or in order after the release; an event that holds again stops the replay', () => {
    const hold = new DeliveryHold();
    const seen: number[] = [];
    hold.run(() => seen.push(1));
    hold.hold();
    expect(hold.held).toBe(true);
    hold.run(() => seen.push(2));
    hold.run(() => {
      seen.push(3);
      hold.hold();
    });
    hold.run(() => seen.push(4));
    expect(seen).toEqual([1]);
    hold.release();
    expect(seen).toEqual([1, 2, 3]);
    expect(hold.held).toBe(true);
    hold.run(() => seen.push(5));
    hold.release();
    expect(seen).toEqual([1, 2, 3, 4, 5]);
    expect(hold.held).toBe(false);
  });
});
