/**
 * A snapshot's object read straight into a `SortedRecord` (record-text.ts), where the machine
 * says so (`MachineDefinition.snapshotRecord`: the config store's leaves): the record has the
 * members `JSON.parse` gives the object (any key, escapes, nesting and spacing; a key given
 * twice is refused), and says whether the text listed them in order. A new replica
 * of a store reads its leaves as records to the leader's digest, and a leaf changed in transit
 * is refused with a typed error.
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { readRecord, stringEnd } from '../src/record-text.js';
import { SortedRecord } from '../src/sorted-record.js';
import { canonicalJson } from '../src/canonical.js';
import { SnapshotReceiver, snapshotChunks } from '../src/snapshot-transfer.js';
import {
  MalformedSnapshotError,
  SnapshotDigestError,
  snapshotLines,
} from '../src/snapshot-text.js';
import { segmentOf } from '../src/snapshot-segments.js';
import { SliceClock } from '../src/slices.js';
import { imageDigest, type Image } from '../src/image.js';
import { mapDefinition } from '../src/map/definition.js';
import {
  DEFAULT_LIMITS,
  emptyMap,
  forEachEntry,
  pathOf,
  type MapOp,
  type MapState,
} from '../src/map/state.js';
import { reduceTxn } from '../src/map/reduce-txn.js';
import { imageOf } from './helpers.js';

/** `readRecord` of `text` (a copy: it changes the bytes). */
function read(text: string): ReturnType<typeof readRecord> {
  const b = Buffer.from(text, 'utf8');
  return readRecord(b, 0, b.length);
}

const tricky = fc.constantFrom('__proto__', '10', '9', '', '"', '\\', '{', '}', ':', ',', '[', ']');
const key = fc.oneof(fc.string({ unit: 'binary', maxLength: 8 }), tricky);
const json = fc.letrec<{ v: unknown }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small' },
    fc.oneof(key, fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean()),
    fc.constant(null),
    fc.array(tie('v'), { maxLength: 5 }),
    fc.dictionary(key, tie('v'), { maxKeys: 5 }),
  ),
})).v;

describe('an object read as a record', () => {
  it('has the members JSON.parse gives it, whatever its keys, values and spacing', () => {
    fc.assert(
      fc.property(fc.dictionary(key, json, { maxKeys: 30 }), fc.boolean(), (obj, spaced) => {
        const text = spaced ? JSON.stringify(obj, null, 2) : JSON.stringify(obj);
        const got = read(text)!;
        expect(got.record).toBeInstanceOf(SortedRecord);
        expect(canonicalJson(got.record)).toBe(canonicalJson(JSON.parse(text)));
        const keys = got.record.keys;
        for (let i = 1; i < keys.length; i++) expect(keys[i - 1]! < keys[i]!).toBe(true);
        // in order exactly when the text listed its keys ascending
        const listed = Object.keys(JSON.parse(text) as object);
        expect(got.inOrder).toBe(listed.every((k, i) => i === 0 || listed[i - 1]! < k));
      }),
      { numRuns: 300 },
    );
  });

  it('refuses a key given twice (JSON.stringify never writes one)', () => {
    for (const bad of ['{"b":1,"a":2,"b":{"x":[3]},"c":4}', '{"a":1,"a":1}'])
      expect(() => read(bad), bad).toThrow(MalformedSnapshotError);
  });

  it('gives nothing for a text that is not an object, and refuses one that does not parse', () => {
    expect(read('[1,2]')).toBeUndefined();
    expect(read('"{}"')).toBeUndefined();
    expect(read('{')).toBeUndefined();
    for (const bad of [
      '{"a":}',
      '{"a"}',
      '{"a":1,}',
      '{1:2}',
      '{"a":1:"b"}',
      '{"a","b"}',
      '{"a":"b}',
    ])
      expect(() => read(bad), bad).toThrow(MalformedSnapshotError);
  });
});

/** The closing quote of the string starting at `b[at]`, a byte at a time (the reference). */
function stringEndByteByByte(b: Uint8Array, at: number, end: number): number {
  let i = at;
  for (; i < end && b[i] !== 0x22; i++) if (b[i] === 0x5c) i++;
  return Math.min(i, end);
}

describe("a record's strings are skipped whole (stringEnd)", () => {
  it('finds the closing quote of any JSON string, whatever its escapes', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 40 }), fc.string(), (s, after) => {
        const text = JSON.stringify(s);
        const b = Buffer.from(text + after, 'utf8');
        const close = Buffer.byteLength(text, 'utf8') - 1;
        expect(stringEnd(b, 1, b.length)).toBe(close);
      }),
      { numRuns: 500 },
    );
  });

  it('gives the end for a string cut short, and agrees with a byte-by-byte scan on any bytes', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom(0x22, 0x5c, 0x61, 0x7b, 0x3a), { maxLength: 24 }),
        fc.nat(),
        (bytes, cut) => {
          const b = Buffer.from(bytes);
          const end = bytes.length === 0 ? 0 : cut % (bytes.length + 1);
          expect(stringEnd(b, 0, end)).toBe(stringEndByteByByte(b, 0, end));
        },
      ),
      { numRuns: 1000 },
    );
    // an escaped quote at the very end of the text leaves the string open
    const open = Buffer.from('"ab\\"', 'utf8');
    expect(stringEnd(open, 1, open.length)).toBe(open.length);
    // two backslashes are one escaped backslash: the quote after them closes the string
    const closed = Buffer.from('"ab\\\\"', 'utf8');
    expect(stringEnd(closed, 1, closed.length)).toBe(closed.length - 1);
    expect(() => read('{"a":"b\\"}')).toThrow(MalformedSnapshotError);
  });
});

/** `n` keys of the store whose leaves all sit under one level-2 node (so each is a line). */
function crowdedKeys(n: number, prefix: string): string[] {
  const out: string[] = [];
  for (let i = 0; out.length < n; i++) {
    const k = `${prefix}${i}`;
    const p = pathOf(k);
    if (p[0] === 'a' && p[1] === '7') out.push(k);
  }
  return out;
}

/** A store with leaves of about 20 keys under `tree.a.7` (integer-like keys in some). */
function crowdedStore(): MapState {
  const ops: MapOp[] = [];
  for (const k of crowdedKeys(300, 'c/')) ops.push({ op: 'set', key: k, value: { v: k } });
  for (const k of crowdedKeys(8, '')) ops.push({ op: 'set', key: k, value: k.length });
  for (let i = 0; i < 2000; i++) ops.push({ op: 'set', key: `o/${i}`, value: i });
  return reduceTxn(emptyMap(), { compares: [], ops }, DEFAULT_LIMITS).state;
}

async function receive(
  bytes: readonly Uint8Array[],
  expected: string,
  records = true,
): Promise<Image<MapState> | undefined> {
  const def = mapDefinition('kv');
  const r = new SnapshotReceiver<MapState>(
    () => false,
    new SliceClock(() => 0),
    records ? def.snapshotRecord?.bind(def) : undefined,
  );
  bytes.forEach((b, i) => r.push(i, b));
  return r.verifiedImage(expected);
}

function entries(state: MapState): string {
  const out: [string, unknown][] = [];
  forEachEntry(state, (k, e) => out.push([k, e]));
  return canonicalJson(out.sort((a, b) => (a[0] < b[0] ? -1 : 1)));
}

describe('a new replica of the store reads the leaves as records', () => {
  const state = crowdedStore();
  const image = imageOf(state);
  const want = imageDigest(image);
  const lines = [...snapshotLines(image)];
  // the largest leaf without integer-like keys (JSON lists those first, out of order): 16
  // members or more in order, digested from its bytes
  const integerKey = /[{,]"(0|[1-9]\d*)":\{"createRevision"/;
  const leafAt = lines.reduce(
    (best, l, i) =>
      l.startsWith('[4,') && !integerKey.test(l) && (best < 0 || l.length > lines[best]!.length)
        ? i
        : best,
    -1,
  );
  const segments = (ls: readonly string[]): Uint8Array[] => {
    const b = Buffer.from(ls.join('\n') + '\n', 'utf8');
    const out: Uint8Array[] = [];
    for (let at = 0; at < b.length; at += 1000) out.push(segmentOf(b.subarray(at, at + 1000)));
    return out;
  };

  it("to the leader's digest and entries, each leaf a SortedRecord", async () => {
    expect(leafAt).toBeGreaterThan(0);
    expect(Object.keys((JSON.parse(lines[leafAt]!) as object[])[2]!).length).toBeGreaterThan(16);
    const chunks: Uint8Array[] = [];
    for await (const c of snapshotChunks(image, 4096, () => false, new SliceClock(() => 0)))
      chunks.push(c.bytes);
    const back = await receive(chunks, want);
    expect(imageDigest(back!)).toBe(want);
    expect(entries(back!.state)).toBe(entries(state));
    const level = back!.state.tree.a!['7']!;
    const leaves = Object.values(level);
    expect(leaves.length).toBe(16);
    for (const leaf of leaves) expect(leaf).toBeInstanceOf(SortedRecord);
    // elsewhere (leaves inside a larger line) as JSON.parse makes them
    expect(lines.some((l) => l.startsWith('[4,') && integerKey.test(l))).toBe(true);
    const other = Object.values(back!.state.tree).flatMap((l) => Object.values(l!));
    expect(other.some((l) => !(l instanceof SortedRecord) && typeof l === 'object')).toBe(true);
  });

  it('a leaf whose members come in another order (or spaced) reads to the same digest', async () => {
    const l = JSON.parse(lines[leafAt]!) as [number, string, Record<string, unknown>];
    const keys = Object.keys(l[2]).reverse();
    const reordered = `[4,${JSON.stringify(l[1])},{${keys.map((k) => `${JSON.stringify(k)}: ${JSON.stringify(l[2][k])}`).join(',')}}]`;
    const back = await receive(segments(lines.map((x, i) => (i === leafAt ? reordered : x))), want);
    expect(imageDigest(back!)).toBe(want);
    expect(entries(back!.state)).toBe(entries(state));
  });

  // a leaf's member: its key, then its entry (whose value is a small object)
  const entry = '"[^"]+":\\{[^}]*\\},"version":\\d+\\}';
  const changes: [string, (l: string) => string, new (...a: never[]) => Error][] = [
    [
      'a revision changed',
      (l) => l.replace(/"revision":(\d+)/, '"revision":9$1'),
      SnapshotDigestError,
    ],
    ['a space added', (l) => l.replace('":{', '": {'), SnapshotDigestError],
    [
      'a member duplicated',
      (l) => l.replace(new RegExp(`^(\\[4,"\\w",\\{)(${entry}),`), '$1$2,$2,'),
      MalformedSnapshotError,
    ],
    [
      'a colon made a comma',
      (l) => l.replace(/^(\[4,"\w",\{"[^"]+"):/, '$1,'),
      MalformedSnapshotError,
    ],
    [
      'a comma made a colon',
      (l) => l.replace(new RegExp(`^(\\[4,"\\w",\\{${entry}),`), '$1:'),
      MalformedSnapshotError,
    ],
    ['cut short', (l) => l.slice(0, -10) + ']', MalformedSnapshotError],
  ];
  for (const [name, change, error] of changes)
    it(`refuses a leaf changed in transit with a typed error, no image: ${name}`, async () => {
      const changed = change(lines[leafAt]!);
      expect(changed).not.toBe(lines[leafAt]);
      const text = lines.map((x, i) => (i === leafAt ? changed : x));
      await expect(receive(segments(text), want)).rejects.toBeInstanceOf(error);
    });
});
