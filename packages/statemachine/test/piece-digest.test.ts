/**
 * A sync target hashes a canonical snapshot piece from the bytes it received
 * (piece-digest.ts) and checks the image's digest before it is used
 * (`SnapshotReceiver.verifiedImage`): the state it accepts has the leader's digest over random
 * states (full Unicode keys and values), and a snapshot whose text was changed (a value, a
 * space, a duplicated key, an escape, a number's spelling) is refused with a
 * `SnapshotDigestError` and no image; a line split differently across segments reads alike.
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { segmentOf } from '../src/snapshot-segments.js';
import { SnapshotReceiver, snapshotChunks } from '../src/snapshot-transfer.js';
import { SnapshotDigestError, snapshotLines } from '../src/snapshot-text.js';
import { textDigestOf } from '../src/piece-digest.js';
import { canonicalJson, digestOf } from '../src/canonical.js';
import { SliceClock } from '../src/slices.js';
import { imageDigest, type Image } from '../src/image.js';
import { DEFAULT_LIMITS, emptyMap, pathOf, type MapOp, type MapState } from '../src/map/state.js';
import { reduceTxn } from '../src/map/reduce-txn.js';
import { imageOf } from './helpers.js';

/** Read `bytes` (segments) in chunks of `size`, checking the digest against `expected`. */
async function receive(
  bytes: readonly Uint8Array[],
  expected: string,
): Promise<Image<unknown> | undefined> {
  const r = new SnapshotReceiver<unknown>(() => false, new SliceClock(() => 0));
  bytes.forEach((b, i) => r.push(i, b));
  return r.verifiedImage(expected);
}

/** The segments of `text` cut every `segment` bytes (the leader cuts at 32 KiB). */
function segmentsOf(text: string, segment: number): Uint8Array[] {
  const b = Buffer.from(text, 'utf8');
  const out: Uint8Array[] = [];
  for (let at = 0; at < b.length; at += segment) out.push(segmentOf(b.subarray(at, at + segment)));
  return out;
}

async function chunksOf(image: Image<unknown>): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for await (const c of snapshotChunks(image, 8192, () => false, new SliceClock(() => 0)))
    out.push(c.bytes);
  return out;
}

const unicode = fc.string({ unit: 'binary', maxLength: 12 });
const scalar = fc.oneof(
  unicode,
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.boolean(),
  fc.constant(null),
);
/** A JSON value with full Unicode strings, keys sorted or not, nested objects small or large. */
const json = fc.letrec<{ v: unknown }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small' },
    scalar,
    fc.array(tie('v'), { maxLength: 20 }),
    fc.dictionary(
      fc.oneof(unicode, fc.constantFrom('__proto__', '10', '9', 'é', 'e\u0301')),
      tie('v'),
      {
        maxKeys: 20,
      },
    ),
  ),
})).v;

/** An object of `entries` inserted in sorted order (so that its JSON is canonical), or as given. */
function objectOf(entries: [string, unknown][], sorted: boolean): Record<string, unknown> {
  const list = sorted ? [...entries].sort((a, b) => (a[0] < b[0] ? -1 : 1)) : entries;
  const o: Record<string, unknown> = {};
  for (const [k, v] of list)
    Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  return o;
}

/**
 * A state large enough to be cut into many lines (over `PIECE_MEMBERS`): groups of 16-40
 * members, some inserted sorted (hashed from their text), some not (serialised), plus
 * `extra` drawn by fast-check.
 */
function stateWith(extra: Record<string, unknown>): Record<string, unknown> {
  const state: Record<string, unknown> = { ...extra };
  for (let g = 0; g < 120; g++) {
    const entries: [string, unknown][] = [];
    for (let i = 0; i < 16 + (g % 25); i++)
      entries.push([
        `k${(i * 7919) % 1000}é${g}`,
        { a: g, b: `v${i}\u2028😀`, c: [i, null, true] },
      ]);
    state[`g${g}`] = objectOf(entries, g % 3 !== 0);
  }
  return state;
}

describe('a snapshot piece hashed from its text', () => {
  it('gives the digest canonical.ts gives, or nothing when its text would not be canonical', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(unicode, json), { minLength: 0, maxLength: 40 }),
        fc.boolean(),
        (entries, sorted) => {
          const uniq = [...new Map(entries).entries()];
          const value = objectOf(uniq, sorted);
          const text = Buffer.from(JSON.stringify(value), 'utf8');
          const got = textDigestOf(value, text);
          if (got !== undefined) {
            // hashed from its text only when that text is the canonical one
            expect(text.toString('utf8')).toBe(canonicalJson(value));
            expect(got).toBe(digestOf(value));
          } else if (
            uniq.length >= 16 &&
            sorted &&
            uniq.every(
              ([k, v]) => !/^(0|[1-9][0-9]*)$/.test(k) && (v === null || typeof v !== 'object'),
            )
          ) {
            // a sorted piece of scalars, no integer-like key: always hashed from its text
            expect.unreachable('a canonical piece was not hashed from its text');
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it("reads random states to the leader's digest and canonical JSON (full Unicode keys and values)", async () => {
    await fc.assert(
      fc.asyncProperty(fc.dictionary(unicode, json, { maxKeys: 12 }), async (extra) => {
        const image = imageOf(stateWith(extra));
        const want = imageDigest(image);
        const back = await receive(await chunksOf(image), want);
        expect(back).toBeDefined();
        expect(imageDigest(back!)).toBe(want);
        expect(canonicalJson(back!.state)).toBe(canonicalJson(image.state));
      }),
      { numRuns: 40 },
    );
  });

  it("reads random stores to the leader's digest, leaves of 16 keys and more included", async () => {
    // keys that share a leaf (one path), so that leaves are large pieces
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(unicode, json), { minLength: 1, maxLength: 60 }),
        fc.integer({ min: 0, max: 4095 }),
        async (sets, leafSeed) => {
          const want = pathOf(`seed${leafSeed}`).join('');
          const ops: MapOp[] = [];
          for (const [k, v] of sets) {
            let key = k;
            for (let i = 0; pathOf(key).join('') !== want; i++) key = `${k}${i}`;
            ops.push({ op: 'set', key, value: v as never });
          }
          // and enough other keys to cut the tree into lines
          for (let i = 0; i < 3000; i++) ops.push({ op: 'set', key: `o/${i}`, value: i });
          const state = reduceTxn(emptyMap(), { compares: [], ops }, DEFAULT_LIMITS).state;
          const image = imageOf<MapState>(state);
          const digest = imageDigest(image);
          const back = await receive(await chunksOf(image), digest);
          expect(imageDigest(back!)).toBe(digest);
          expect(canonicalJson(back!.state)).toBe(canonicalJson(state));
        },
      ),
      { numRuns: 25 },
    );
  });
});

describe('a snapshot whose text was changed', () => {
  const image = imageOf(stateWith({}));
  const want = imageDigest(image);
  const lines = [...snapshotLines(image)];
  // a sorted group (hashed from its text) and an unsorted one (serialised)
  const sortedAt = lines.findIndex((l) => l.startsWith('[1,"g1",'));
  const unsortedAt = lines.findIndex((l) => l.startsWith('[1,"g0",'));
  const textWith = (at: number, line: string): string =>
    lines.map((l, i) => (i === at ? line : l)).join('\n') + '\n';

  it('reads back when written as the leader wrote it, whatever the segments', async () => {
    expect(sortedAt).toBeGreaterThan(0);
    expect(unsortedAt).toBeGreaterThan(0);
    const text = lines.join('\n') + '\n';
    // segments cut inside lines, a line over several segments, a UTF-8 character cut in two
    for (const seg of [32 * 1024, 1000, 97, 7]) {
      const back = await receive(segmentsOf(text, seg), want);
      expect(imageDigest(back!)).toBe(want);
    }
  });

  const changes: [string, (l: string) => string][] = [
    ['a value changed', (l) => l.replace('"v1\u2028😀"', '"v2\u2028😀"')],
    ['a space after a colon', (l) => l.replace('":{', '": {')],
    ['a space before the closing bracket', (l) => l.slice(0, -1) + ' ]'],
    ['a duplicated member', (l) => l.replace(/^(\[1,"g\d+",\{)("[^"]+":\{[^}]*\},)/, '$1$2$2')],
    [
      'a duplicated member with another value',
      (l) => l.replace(/^(\[1,"g\d+",\{)("[^"]+":)\{"a":(\d+),/, '$1$2null,$2{"a":$3,'),
    ],
    ['a character escaped that JSON.stringify writes as it is', (l) => l.replace('é', '\\u00e9')],
    ['a number spelled otherwise', (l) => l.replace(/"a":(\d+),/, '"a":$1.0,')],
  ];
  for (const [name, change] of changes)
    for (const where of ['sorted', 'unsorted'] as const)
      it(`is refused with a SnapshotDigestError, no image: ${name} (${where} piece)`, async () => {
        const at = where === 'sorted' ? sortedAt : unsortedAt;
        const changed = change(lines[at]!);
        expect(changed).not.toBe(lines[at]);
        const text = textWith(at, changed);
        let image: Image<unknown> | undefined;
        let error: unknown;
        try {
          image = await receive(segmentsOf(text, 1000), want);
        } catch (e) {
          error = e;
        }
        // a change that leaves the same JSON value in an unsorted piece (serialised again)
        // is read as that value: same digest, not refused
        const sameValue =
          JSON.stringify(JSON.parse(changed)) === JSON.stringify(JSON.parse(lines[at]!));
        if (where === 'unsorted' && sameValue) {
          expect(error).toBeUndefined();
          expect(imageDigest(image!)).toBe(want);
        } else {
          expect(image).toBeUndefined();
          expect(error).toBeInstanceOf(SnapshotDigestError);
          expect((error as SnapshotDigestError).expected).toBe(want);
        }
      });

  it('members reordered read as the same state (the digest is of canonical JSON)', async () => {
    const l = lines[sortedAt]!;
    const obj = (JSON.parse(l) as unknown[])[2] as Record<string, unknown>;
    const keys = Object.keys(obj).reverse();
    const reordered = `[1,"g1",{${keys.map((k) => `${JSON.stringify(k)}:${JSON.stringify(obj[k])}`).join(',')}}]`;
    const back = await receive(segmentsOf(textWith(sortedAt, reordered), 1000), want);
    expect(imageDigest(back!)).toBe(want);
    expect(canonicalJson(back!.state)).toBe(canonicalJson(image.state));
  });
});
