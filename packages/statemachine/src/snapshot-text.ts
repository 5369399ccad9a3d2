/**
 * A snapshot's text on the wire: the image as lines, each small enough to build and to parse
 * in a short turn of the event loop, so that neither the sync leader nor a target holds the
 * loop for the whole image (a 100,000-key store is about 13 MB of JSON: 200-300 ms to
 * serialise and 150-600 ms to parse in one go on the machines this runs on).
 *
 * The first line is the image's metadata (`jsonMetaOf`). Every other line is a JSON array
 * `[depth, key, value]` or `[depth, key, container, 1]`: set member `key` of the container
 * opened last at `depth - 1` (depth 0: the state itself, key `null`) to `value`; with the
 * trailing `1`, `container` is an empty object or array whose members follow, one level
 * deeper. A value is written whole when it is one piece: at most `PIECE_MEMBERS` members in
 * all (json-pieces.ts; nested ones included) and no object or array below it that canonical.ts
 * digests on its own (16 members or more), so that a target can hash a piece's text as it
 * came (piece-digest.ts); a `SortedRecord` is always written whole. Any other value is opened
 * and written member by member. A piece whose text the digest kept (canonical.ts
 * `pieceTextOf`: a store's leaf, once digested) is written from that text, not serialised
 * again: the same text. Members come in the source's key
 * order, so the state built equals `JSON.parse(JSON.stringify(state))`, key order included
 * (where the machine reads large records as `SortedRecord`s, `MachineDefinition.snapshotRecord`,
 * a whole one is such a record: record-text.ts; its JSON is the object's).
 * How the writer cuts the image into lines is not part of the format: a reader takes any.
 * JSON never holds a raw newline, so lines split on `\n`.
 * @module
 */
import { pieceTextOf } from './piece-text.js';
import { jsonMetaOf, parseMeta, type Image } from './image.js';
import { PIECE_MEMBERS, skippedInJson } from './json-pieces.js';
import { SortedRecord } from './sorted-record.js';
import { BACKSLASH, CLOSE_BRACKET, COMMA, OPEN_BRACKET, QUOTE, ZERO } from './json-bytes.js';

/** The lines of a snapshot of `image`, without their newlines (see the module's doc). */
export function* snapshotLines(image: Image<unknown>): Generator<string> {
  yield JSON.stringify(jsonMetaOf(image));
  yield* valueLines(image.state, 0, null, new Measure());
}

/**
 * canonical.ts digests an object or array with this many members on its own (`SUMMARIZE_AT`):
 * a piece holds none below itself, so that its text is its canonical JSON (piece-digest.ts).
 */
const SUMMARIZE_AT = 16;

/**
 * The members of a value as JSON writes them, nested ones included (an array's items, an
 * object's members that are not `undefined` or functions, a `SortedRecord`'s members, and
 * theirs), measured against a budget, remembering the sizes of the larger objects it measured
 * whole. Deciding level by level whether a value is one piece measures a large container (up
 * to `PIECE_MEMBERS` of it) and then each of its members again: a large store's leaves were
 * walked twice, 40% of a leader's time on a snapshot. With the sizes remembered, each is
 * walked about once, and the first line still comes after measuring at most one piece. An
 * object whose text the digest kept (canonical.ts `pieceTextOf`) is not walked at all: its
 * size was counted with its text.
 */
class Measure {
  private readonly sizes = new Map<object, number>();

  /**
   * `budget` minus the members of `value`, nested ones included; stops below 0, and gives -1
   * for a value that holds (below itself) an object or array canonical.ts digests on its own.
   */
  left(value: unknown, budget: number, nested = false): number {
    if (value === null || typeof value !== 'object') return budget;
    const kept = pieceTextOf(value);
    if (kept !== undefined) return nested ? -1 : budget - kept.members;
    const known = this.sizes.get(value);
    if (known !== undefined) return nested ? -1 : budget - known;
    const start = budget;
    let own = 0;
    if (Array.isArray(value)) {
      own = value.length;
      if (nested && own >= SUMMARIZE_AT) return -1;
      budget -= own;
      for (let i = 0; i < value.length && budget >= 0; i++)
        budget = this.left(value[i], budget, true);
    } else if (value instanceof SortedRecord) {
      const values = (value as SortedRecord<unknown>).values;
      own = values.length;
      if (nested && own >= SUMMARIZE_AT) return -1;
      budget -= own;
      for (let i = 0; i < values.length && budget >= 0; i++)
        budget = this.left(values[i], budget, true);
    } else {
      const obj = value as Record<string, unknown>;
      for (const k in obj) {
        if (!Object.hasOwn(obj, k)) continue;
        const v = obj[k];
        if (v === undefined || typeof v === 'function') continue;
        if (++own >= SUMMARIZE_AT && nested) return -1;
        budget = this.left(v, budget - 1, true);
        if (budget < 0) return budget;
      }
    }
    if (budget >= 0 && own >= SUMMARIZE_AT) this.sizes.set(value, start - budget);
    return budget;
  }

  /** Whether `value` is written as one piece (else member by member). */
  onePiece(value: unknown): boolean {
    return (
      value === null ||
      typeof value !== 'object' ||
      'toJSON' in value ||
      this.left(value, PIECE_MEMBERS) >= 0
    );
  }
}

/** A piece's JSON text: the one its digest kept (canonical.ts), else `JSON.stringify`'s. */
function pieceText(value: unknown): string {
  if (typeof value === 'object' && value !== null) {
    const kept = pieceTextOf(value);
    if (kept !== undefined) return kept.text;
  }
  return skippedInJson(value) ? 'null' : (JSON.stringify(value) ?? 'null');
}

function* valueLines(
  value: unknown,
  depth: number,
  key: string | number | null,
  measure: Measure,
): Generator<string> {
  const k = JSON.stringify(key);
  if (measure.onePiece(value)) {
    yield `[${depth},${k},${pieceText(value)}]`;
    return;
  }
  if (Array.isArray(value)) {
    yield `[${depth},${k},[],1]`;
    for (let i = 0; i < value.length; i++) yield* valueLines(value[i], depth + 1, i, measure);
    return;
  }
  yield `[${depth},${k},{},1]`;
  const obj = value as Record<string, unknown>;
  for (const m of Object.keys(obj)) {
    const v = obj[m];
    if (!skippedInJson(v)) yield* valueLines(v, depth + 1, m, measure);
  }
}

function emptyContainer(v: unknown): boolean {
  if (Array.isArray(v)) return v.length === 0;
  return typeof v === 'object' && v !== null && Object.keys(v).length === 0;
}

/** Thrown for a snapshot text that does not parse as `snapshotLines` writes it. */
export class MalformedSnapshotError extends TypeError {
  override readonly name = 'MalformedSnapshotError';
}

/**
 * Thrown for a snapshot whose image's digest is not the one its sender announced: tampered
 * with, written by a faulty or foreign sender, or (piece-digest.ts) not in canonical form.
 * The image is not applied; safe to retry (with another transfer).
 */
export class SnapshotDigestError extends Error {
  override readonly name = 'SnapshotDigestError';

  /**
   * @param digest - the digest of the image read
   * @param expected - the digest its sender announced
   */
  constructor(
    readonly digest: string,
    readonly expected: string,
  ) {
    super(`snapshot digest ${digest} is not the announced ${expected}: refused`);
  }
}

/** The keys from a state down to one of its members (`MachineDefinition.snapshotRecord`). */
export type StatePath = readonly (string | number)[];

/** Builds an image from the lines of `snapshotLines`, one line at a time. */
export class SnapshotReader<S> {
  private meta: ReturnType<typeof parseMeta> | undefined;
  private state: unknown;
  private hasState = false;
  /** The open containers: `open[d]` takes the members of depth `d + 1`. */
  private readonly open: object[] = [];
  /** `openKeys[d]`: the key `open[d]` has in its parent (`null` for the state). */
  private readonly openKeys: (string | number | null)[] = [];

  /**
   * @param records - whether the object at a path is read as a `SortedRecord` when it comes
   * whole in a line (see `recordAt`; default: nowhere)
   */
  constructor(private readonly records?: (path: StatePath) => boolean) {}

  /**
   * Whether a line's value at `depth` under `key` that is an object should be read as a
   * `SortedRecord` (record-text.ts): the machine said so for its path
   * (`MachineDefinition.snapshotRecord`), and the line would be placed (its depth is open).
   */
  recordAt(depth: number, key: string): boolean {
    if (this.records === undefined || depth < 1 || depth > this.open.length) return false;
    const path: (string | number)[] = [];
    for (let d = 1; d < depth; d++) path.push(this.openKeys[d]!);
    path.push(key);
    return this.records(path);
  }

  /**
   * Take the next line (without its newline); throws `MalformedSnapshotError`. Returns the
   * line's value when it is a whole object or array (one piece: nothing is added to it later),
   * so that the caller may digest it at once.
   */
  line(text: string): object | undefined {
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (e) {
      throw new MalformedSnapshotError('snapshot line is not JSON', { cause: e });
    }
    if (this.meta === undefined) {
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
        throw new MalformedSnapshotError('snapshot metadata is not an object');
      try {
        this.meta = parseMeta(raw as Record<string, unknown>);
      } catch (e) {
        throw new MalformedSnapshotError('malformed snapshot metadata', { cause: e });
      }
      return undefined;
    }
    if (!Array.isArray(raw) || raw.length < 3 || raw.length > 4)
      throw new MalformedSnapshotError('malformed snapshot line');
    const [depth, key, value, open] = raw as [unknown, unknown, unknown, unknown];
    return this.place(depth, key, value, open);
  }

  /**
   * Take a line `[depth,key,value]` (not the metadata) given in parts: `value` parsed from
   * its own text (see `pieceLineParts`). Throws `MalformedSnapshotError`; returns what `line`
   * returns.
   */
  member(depth: number, key: string, value: unknown): object | undefined {
    if (this.meta === undefined) throw new MalformedSnapshotError('snapshot metadata missing');
    return this.place(depth, key, value, undefined);
  }

  private place(depth: unknown, key: unknown, value: unknown, open: unknown): object | undefined {
    if (
      typeof depth !== 'number' ||
      !Number.isInteger(depth) ||
      depth < 0 ||
      depth > this.open.length ||
      (depth === 0) !== (key === null) ||
      (depth === 0 && this.hasState) ||
      (open !== undefined && (open !== 1 || !emptyContainer(value)))
    )
      throw new MalformedSnapshotError('malformed snapshot line');
    this.open.length = depth;
    this.openKeys.length = depth;
    if (depth === 0) {
      this.state = value;
      this.hasState = true;
    } else {
      const parent = this.open[depth - 1]!;
      if (Array.isArray(parent)) {
        if (key !== parent.length) throw new MalformedSnapshotError('snapshot array out of order');
        parent.push(value);
      } else {
        if (typeof key !== 'string') throw new MalformedSnapshotError('malformed snapshot key');
        // a member named `__proto__` is a member, as JSON.parse makes it, not a prototype
        if (key === '__proto__')
          Object.defineProperty(parent, key, {
            value,
            writable: true,
            enumerable: true,
            configurable: true,
          });
        else (parent as Record<string, unknown>)[key] = value;
      }
    }
    if (open === 1) {
      this.open.push(value as object);
      this.openKeys.push(key as string | number | null);
      return undefined;
    }
    return typeof value === 'object' && value !== null ? value : undefined;
  }

  /** The image the lines built; throws `MalformedSnapshotError` when incomplete. */
  image(): Image<S> {
    if (this.meta === undefined || !this.hasState)
      throw new MalformedSnapshotError('snapshot incomplete');
    return { ...this.meta, state: this.state as S };
  }
}

/** Where the parts of a line written exactly `[depth,"key",value]` lie (see `pieceLineParts`). */
export interface PieceLineParts {
  readonly depth: number;
  /** The key's JSON text: bytes `[keyStart, keyEnd)` (quotes included). */
  readonly keyStart: number;
  readonly keyEnd: number;
  /** The value's text: bytes `[valueStart, length - 1)` (the line's last byte is `]`). */
  readonly valueStart: number;
}

/**
 * The parts of a line (its UTF-8 bytes, without the newline) when it is written exactly as
 * `snapshotLines` writes a member with a string key that is not an opened container:
 * `[`, a depth of 1-6 digits without a leading zero, `,`, a JSON string, `,`, the value, `]`.
 * `undefined` for any other line (the metadata, depth 0, array members, opened containers
 * `{},1` / `[],1`, anything with whitespace or otherwise written): read those with
 * `SnapshotReader.line`. The value's bytes are not checked here: the caller parses them (and
 * may hash them, piece-digest.ts); a key's closing quote is found by skipping escapes, so the
 * key's text is what `JSON.parse` then checks.
 */
export function pieceLineParts(b: Uint8Array): PieceLineParts | undefined {
  const n = b.length;
  if (n < 8 || b[0] !== OPEN_BRACKET || b[n - 1] !== CLOSE_BRACKET) return undefined;
  let at = 1;
  let depth = 0;
  while (at < n && b[at]! >= ZERO && b[at]! <= ZERO + 9 && at <= 6)
    depth = depth * 10 + b[at++]! - ZERO;
  if (at === 1 || (b[1] === ZERO && at > 2) || depth === 0 || b[at] !== COMMA) return undefined;
  const keyStart = ++at;
  if (b[at] !== QUOTE) return undefined;
  for (at++; at < n && b[at] !== QUOTE; at++) if (b[at] === BACKSLASH) at++;
  if (at >= n - 2 || b[at + 1] !== COMMA) return undefined;
  const keyEnd = at + 1;
  const valueStart = at + 2;
  // an opened container: `{},1` or `[],1`
  if (n - 1 - valueStart === 4 && b[valueStart + 2] === COMMA) return undefined;
  return { depth, keyStart, keyEnd, valueStart };
}
