/**
 * Canonical serialisation and the state digest: JSON with object keys sorted, so that equal
 * states give equal bytes on every member whatever order their keys were inserted in.
 * @module
 */
import { createHash } from 'node:crypto';

/**
 * Serialise `value` as JSON with sorted object keys. `undefined` members are dropped (as
 * `JSON.stringify` does), bigints become decimal strings, Maps and Sets are not supported
 * (state must be plain JSON).
 */
export function canonicalJson(value: unknown): string {
  const parts: string[] = [];
  write(value, parts);
  return parts.join('');
}

function write(value: unknown, out: string[]): void {
  if (value === null || value === undefined) {
    out.push('null');
    return;
  }
  switch (typeof value) {
    case 'string':
      out.push(JSON.stringify(value));
      return;
    case 'number':
      out.push(Number.isFinite(value) ? String(value) : 'null');
      return;
    case 'boolean':
      out.push(value ? 'true' : 'false');
      return;
    case 'bigint':
      out.push(`"${value.toString()}"`);
      return;
    case 'object':
      break;
    default:
      out.push('null');
      return;
  }
  if (Array.isArray(value)) {
    out.push('[');
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out.push(',');
      write(value[i], out);
    }
    out.push(']');
    return;
  }
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj).sort();
  out.push('{');
  let first = true;
  for (const k of keys) {
    const v = obj[k];
    if (v === undefined || typeof v === 'function') continue;
    if (!first) out.push(',');
    first = false;
    out.push(JSON.stringify(k), ':');
    write(v, out);
  }
  out.push('}');
}

/** Objects and arrays with at least this many members are digested on their own (and cached). */
const SUMMARIZE_AT = 16;

/** Digests of large objects and arrays, by identity: valid because states are never modified. */
const cache = new WeakMap<object, string>();

/**
 * A sha256 (hex) of the canonical JSON of `value`, computed as a Merkle tree: every object or
 * array with at least 16 members (defined ones, for objects) below the top is replaced by
 * `<its digest>`, and that digest is cached by identity. So equal JSON gives equal digests on
 * every member, and a state that shares most of its objects with one already digested (an
 * immer update) costs only the path that changed, not the whole state.
 *
 * The cache assumes that `value` and everything reachable from it are never modified after
 * being digested (immutable states: see `ReplicatedStateMachine.state`).
 */
export function digestOf(value: unknown): string {
  const parts: string[] = [];
  writeMerkle(value, parts, true);
  return createHash('sha256').update(parts.join('')).digest('hex');
}

function definedKeys(obj: Record<string, unknown>): string[] {
  const keys: string[] = [];
  for (const k of Object.keys(obj)) {
    const v = obj[k];
    if (v !== undefined && typeof v !== 'function') keys.push(k);
  }
  return keys.sort();
}

function subDigest(value: object, out: string[]): void {
  let h = cache.get(value);
  if (h === undefined) {
    h = digestOf(value);
    cache.set(value, h);
  }
  out.push('<', h, '>');
}

function writeMerkle(value: unknown, out: string[], top: boolean): void {
  if (value === null || typeof value !== 'object') {
    write(value, out);
    return;
  }
  if (!top && cache.has(value)) {
    subDigest(value, out);
    return;
  }
  if (Array.isArray(value)) {
    if (!top && value.length >= SUMMARIZE_AT) {
      subDigest(value, out);
      return;
    }
    out.push('[');
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out.push(',');
      writeMerkle(value[i], out, false);
    }
    out.push(']');
    return;
  }
  const obj = value as Record<string, unknown>;
  const keys = definedKeys(obj);
  if (!top && keys.length >= SUMMARIZE_AT) {
    subDigest(value, out);
    return;
  }
  out.push('{');
  for (let i = 0; i < keys.length; i++) {
    if (i > 0) out.push(',');
    out.push(JSON.stringify(keys[i]), ':');
    writeMerkle(obj[keys[i]!], out, false);
  }
  out.push('}');
}
