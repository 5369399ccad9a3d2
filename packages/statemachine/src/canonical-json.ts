/**
 * Canonical JSON: JSON with object keys sorted, so that equal states give equal bytes on every
 * member whatever order their keys were inserted in (the text canonical.ts digests).
 * @module
 */
import { SortedRecord } from './sorted-record.js';

/**
 * Serialise `value` as JSON with sorted object keys. `undefined` members are dropped (as
 * `JSON.stringify` does), bigints become decimal strings, a `SortedRecord` is the object it
 * holds, Maps and Sets are not supported (state must be plain JSON).
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
  if (value instanceof SortedRecord) {
    writeRecord(value as SortedRecord<unknown>, out);
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

/** `write` of a `SortedRecord`: its keys are in canonical order already. */
function writeRecord(rec: SortedRecord<unknown>, out: string[]): void {
  const { keys, values } = rec;
  out.push('{');
  let first = true;
  for (let i = 0; i < keys.length; i++) {
    const v = values[i];
    if (v === undefined || typeof v === 'function') continue;
    if (!first) out.push(',');
    first = false;
    out.push(JSON.stringify(keys[i]), ':');
    write(v, out);
  }
  out.push('}');
}
