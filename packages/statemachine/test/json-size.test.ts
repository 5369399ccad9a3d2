/**
 * `jsonByteLength` counts the UTF-8 bytes of `JSON.stringify`'s text without building it, or
 * answers -1 and leaves the value to `JSON.stringify`: it must never answer another number, or
 * replicas would store another `size` than before (and than a replica of the previous
 * version), and refuse or take different writes.
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { jsonByteLength } from '../src/map/json-size.js';
import { checkSizes, DEFAULT_LIMITS } from '../src/map/state.js';

const bytes = (v: unknown): number => Buffer.byteLength(JSON.stringify(v), 'utf8');

/** Strings of every kind of code unit: lone surrogates, controls, quotes, backslashes. */
const anyString = fc.oneof(
  fc.string({ unit: 'binary' }),
  fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)) }),
  fc.string({
    unit: fc.constantFrom(
      '"',
      '\\',
      '\n',
      '\u0000',
      '\u001f',
      '\u007f',
      '\ud800',
      '\udc00',
      'é',
      '€',
      '😀',
    ),
  }),
);
const anyNumber = fc.oneof(
  fc.double(),
  fc.integer(),
  fc.constantFrom(
    0,
    -0,
    1e21,
    -1e21,
    1e-7,
    123456789012345680000,
    Number.MAX_SAFE_INTEGER,
    -Number.MAX_SAFE_INTEGER,
    2 ** 53,
    NaN,
    Infinity,
    -Infinity,
  ),
);
const { value: anyValue } = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    anyString,
    anyNumber,
    fc.boolean(),
    fc.constant(null),
    fc.constant(undefined),
    fc.array(tie('value')),
    fc.dictionary(anyString, tie('value')),
  ),
}));

describe('jsonByteLength', () => {
  it('equals the bytes of JSON.stringify for plain data, holes and omitted members included', () => {
    fc.assert(
      fc.property(anyValue, (v) => {
        const n = jsonByteLength(v);
        if (v === undefined) expect(n).toBe(-1);
        else expect(n).toBe(bytes(v));
      }),
      { numRuns: 2000, seed: 15 },
    );
  });

  it('never gives up on what JSON.parse returns', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        const parsed: unknown = JSON.parse(JSON.stringify(v));
        expect(jsonByteLength(parsed)).toBe(bytes(parsed));
      }),
      { numRuns: 1000, seed: 15 },
    );
  });

  it('counts functions, symbols and holes as JSON.stringify does', () => {
    const sparse = [1, , 3]; // eslint-disable-line no-sparse-arrays
    const odd = {
      a: () => 1,
      b: Symbol('x'),
      c: undefined,
      d: [undefined, () => 2, Symbol('y')],
      e: Object.create(null) as object,
    };
    expect(jsonByteLength(sparse)).toBe(bytes(sparse));
    expect(jsonByteLength(odd)).toBe(bytes(odd));
    expect(jsonByteLength({ ['__proto__']: 1 })).toBe(bytes({ ['__proto__']: 1 }));
    expect(jsonByteLength(JSON.parse('{"__proto__":{"a":1}}'))).toBe(
      bytes(JSON.parse('{"__proto__":{"a":1}}')),
    );
  });

  it('leaves to JSON.stringify what it decides itself', () => {
    class Point {
      x = 1;
    }
    for (const v of [
      new Date(0),
      new Point(),
      new Map(),
      Object.assign(Number(3), {}),
      { toJSON: () => 'x' },
      Object.assign([1], { toJSON: () => 2 }),
      { a: new Date(0) },
      [1n],
      () => 1,
      Symbol('s'),
      undefined,
    ])
      expect(jsonByteLength(v)).toBe(-1);
    let deep: unknown = 1;
    for (let i = 0; i < 100; i++) deep = [deep];
    expect(jsonByteLength(deep)).toBe(-1);
  });

  it('checkSizes gives the same sizes and errors as with JSON.stringify', () => {
    expect(checkSizes('k', { n: 1, pad: 'é😀\ud800' }, DEFAULT_LIMITS)).toBe(
      1 + bytes({ n: 1, pad: 'é😀\ud800' }),
    );
    expect(checkSizes('ké', new Date(0) as unknown as null, DEFAULT_LIMITS)).toBe(
      3 + bytes(new Date(0)),
    );
    expect(() => checkSizes('k', undefined as unknown as null, DEFAULT_LIMITS)).toThrow(/not JSON/);
    expect(() => checkSizes('k', 1n as unknown as null, DEFAULT_LIMITS)).toThrow(TypeError);
    const limits = { ...DEFAULT_LIMITS, maxValueBytes: 10 };
    expect(checkSizes('k', 'é'.repeat(4), limits)).toBe(1 + 10);
    expect(() => checkSizes('k', 'é'.repeat(5), limits)).toThrow(/12 bytes/);
    expect(() => checkSizes('€'.repeat(342), 1, DEFAULT_LIMITS)).toThrow(/1026 bytes/);
  });
});
