import { describe, it, expect, afterEach } from 'vitest';
import { MemoryCluster } from '@cpgkit/core/testing';
import type { Group } from '@cpgkit/core';
import { v7 as uuidv7 } from 'uuid';
import {
  Kind,
  WIRE_VERSION,
  decodeFrame,
  encodeFrame,
  encodeName,
  packChunk,
  parseJsonBody,
  type KindValue,
} from '../src/wire.js';
import { counter, openAll, write } from './helpers.js';

const te = new TextEncoder();

/** Errors that reached the process: a handler that throws is rethrown on a microtask. */
const uncaught: unknown[] = [];
const onUncaught = (e: unknown): void => void uncaught.push(e);
process.on('uncaughtException', onUncaught);
process.on('unhandledRejection', onUncaught);
afterEach(() => {
  uncaught.length = 0;
});

/** A member of the group that speaks the wire format by hand. */
function rawSender(raw: Group): (kind: number, body: Uint8Array | string) => Promise<void> {
  const incarnation = uuidv7();
  return (kind, body) =>
    raw.send(
      encodeFrame({
        kind: kind as KindValue,
        incarnation,
        commandId: kind === Kind.command || kind === Kind.retire ? uuidv7() : undefined,
        epoch: 0,
        nameBytes: encodeName(counter.name),
        body: typeof body === 'string' ? te.encode(body) : body,
      }),
    );
}

/** Bodies that are not an object, or not JSON at all: malformed for every kind. */
const NOT_OBJECTS: (string | Uint8Array)[] = [
  'not json',
  '',
  'null',
  '42',
  '"x"',
  '[]',
  '[{"t":1}]',
  '{}',
  new Uint8Array([0xff, 0x7b, 0x7d]), // not UTF-8
];

/** A JSON body whose `field` is the literal text `raw` (e.g. 1e400, which JSON.parse makes Infinity). */
function withRaw(base: Record<string, unknown>, field: string, raw: string): string {
  return JSON.stringify({ ...base, [field]: '@@RAW@@' }).replace('"@@RAW@@"', raw);
}

/** Malformed bodies of every kind, built around a real summary of the current round. */
function malformedBodies(summary: Record<string, unknown>): [number, Uint8Array | string][] {
  const out: [number, Uint8Array | string][] = [];
  for (const k of Object.values(Kind)) for (const b of NOT_OBJECTS) out.push([k, b]);
  // command: a time that is not a finite number within Date's range
  for (const t of ['1e400', '-1e400', '"1"', 'null', '1e17'])
    out.push([Kind.command, withRaw({ c: { add: 1 } }, 't', t)]);
  out.push([Kind.command, '{"c":{"add":1}}']);
  for (const t of ['1e400', '"5"', 'null', '{}']) out.push([Kind.tick, withRaw({}, 't', t)]);
  for (const r of ['5', 'null', '["r"]']) out.push([Kind.retire, withRaw({}, 'r', r)]);
  // summary: every field missing, then of the wrong type; numbers out of range. Each with a
  // new seq, as a newer summary of the sender would have (an old seq is skipped unread).
  let seq = (summary.seq as number) + 1000;
  const next = (): Record<string, unknown> => ({ ...summary, seq: ++seq });
  for (const field of Object.keys(summary)) {
    const { [field]: _dropped, ...rest } = next();
    out.push([Kind.summary, JSON.stringify(rest)]);
    out.push([Kind.summary, JSON.stringify({ ...next(), [field]: { bad: 1 } })]);
  }
  for (const [field, raw] of [
    ['index', '"abc"'],
    ['index', '"1e3"'],
    ['index', '"-1"'],
    ['index', '7'],
    ['epoch', '1e400'],
    ['epoch', '-1'],
    ['epoch', '4294967296'],
    ['seq', '1e400'],
    ['seq', '1.5'],
    ['ringNodes', '-1'],
    ['knownNodes', '1e400'],
    ['replicas', '[1]'],
    ['replicas', '"r"'],
  ] as const)
    out.push([Kind.summary, withRaw(next(), field, raw)]);
  // snapshot chunks: a header that is not a chunk header, or a length that lies
  const bytes = te.encode('{"state":1}');
  for (const header of [
    null,
    [],
    'x',
    { tag: 5, i: 0, last: true, digest: 'd' },
    { tag: 't', i: -1, last: true, digest: 'd' },
    { tag: 't', i: 0, n: 1, digest: 'd' },
    { tag: 't', i: 0, last: 1, digest: 'd' },
    { tag: 't', i: 0.5, last: true, digest: 'd' },
    { tag: 't', i: '0', last: true, digest: 'd' },
    { tag: 't', i: 0, last: true },
  ])
    out.push([Kind.snapshot, packChunk(header, bytes)]);
  const lying = packChunk({ tag: 't', i: 0, last: true, digest: 'd' }, bytes);
  new DataView(lying.buffer).setUint32(0, 1 << 30);
  out.push([Kind.snapshot, lying]);
  for (const id of ['5', 'null', '["a"]']) out.push([Kind.check, withRaw({}, 'id', id)]);
  for (const b of [
    { id: 'a', index: 'x', digest: 'd' },
    { id: 'a', index: 5, digest: 'd' },
    { id: 'a', index: '1', digest: 5 },
    { id: 5, index: '1', digest: 'd' },
    { id: 'a', digest: 'd' },
  ])
    out.push([Kind.digest, JSON.stringify(b)]);
  for (const b of [
    { round: summary.round, participants: 'x' },
    { round: summary.round, participants: { length: 1 } },
    { round: summary.round, participants: [1, 2] },
    { round: summary.round },
    { round: 5, participants: [] },
  ])
    out.push([Kind.close, JSON.stringify(b)]);
  for (const b of [
    { i: 'x', r: 'r' },
    { i: 5, r: 'r' },
    { i: '1', r: 5 },
    { i: '-1', r: 'r' },
    { r: 'r' },
  ])
    out.push([Kind.ack, JSON.stringify(b)]);
  return out;
}

/** Valid command frames turned into frames of unknown versions and kinds, and another name. */
function undecodable(): Uint8Array[] {
  const frame = (name = counter.name): Uint8Array =>
    encodeFrame({
      kind: Kind.command,
      incarnation: uuidv7(),
      commandId: uuidv7(),
      epoch: 0,
      nameBytes: encodeName(name),
      body: te.encode(`{"t":${Date.now()},"c":{"add":1000}}`),
    });
  const out: Uint8Array[] = [];
  for (const v of [0, WIRE_VERSION + 1, 255]) {
    const f = frame();
    f[2] = v;
    out.push(f);
  }
  for (const k of [0, 10, 255]) {
    const f = frame();
    f[3] = k;
    out.push(f);
  }
  out.push(frame('not-counter'));
  return out;
}

describe('malformed messages', () => {
  it('a body that does not parse, of any kind, is counted as foreign and skipped; nothing throws, the machine goes on', async () => {
    const cluster = new MemoryCluster({ nodes: 3, seed: 31 });
    const ms = await openAll(cluster, [1, 2, 3], counter, { syncTimeout: 500 });
    expect(await write(cluster, ms[0]!, 1)).toBe(1);

    // a raw member joins: the machines start a round and wait for its summary
    const raw = cluster.member(3);
    const summaries: Record<string, unknown>[] = [];
    raw.on('message', (e) => {
      const f = decodeFrame(e.data);
      if (f?.kind === Kind.summary)
        summaries.push(parseJsonBody(f.body) as Record<string, unknown>);
    });
    await raw.join(counter.name);
    await cluster.runUntilIdle();
    expect(ms.map((m) => m.status)).toEqual(['syncing', 'syncing', 'syncing']);
    const summary = summaries.at(-1)!;
    expect(typeof summary.round).toBe('string');

    const send = rawSender(raw);
    const bodies = malformedBodies(summary);
    const frames = undecodable();
    const sendAll = async (): Promise<void> => {
      for (const [kind, body] of bodies) await send(kind, body);
      for (const f of frames) await raw.send(f);
      await cluster.runUntilIdle();
    };
    const perRun = bodies.length + frames.length;

    // while the round waits for the silent raw member (summaries and closes of this round)...
    await sendAll();
    expect(ms.map((m) => m.foreign)).toEqual([perRun, perRun, perRun]);
    await cluster.advance(1000);
    expect(ms.map((m) => m.status)).toEqual(['ready', 'ready', 'ready']);
    // ...and once the round was closed without it (acks, checks, entries applied at once)
    await sendAll();
    expect(ms.map((m) => m.foreign)).toEqual([2 * perRun, 2 * perRun, 2 * perRun]);

    expect(ms.map((m) => m.status)).toEqual(['ready', 'ready', 'ready']);
    expect(await write(cluster, ms[1]!, 2)).toBe(3);
    expect(ms.map((m) => m.state.log)).toEqual([
      [1, 2],
      [1, 2],
      [1, 2],
    ]);
    expect(ms.every((m) => Number.isFinite(m.time) && m.time < 8.64e15)).toBe(true);
    expect(new Set(ms.map((m) => m.digest())).size).toBe(1);
    await new Promise((r) => setImmediate(r));
    expect(uncaught).toEqual([]);
  });

  it('a frame of another wire version is counted and skipped, though its body is a valid command', async () => {
    expect(WIRE_VERSION).toBe(8);
    const cluster = new MemoryCluster({ nodes: 3, seed: 32 });
    const ms = await openAll(cluster, [1, 2, 3], counter, { syncTimeout: 500 });
    const raw = cluster.member(3);
    await raw.join(counter.name);
    await cluster.advance(1000); // the round is closed without the silent raw member
    expect(ms.map((m) => m.status)).toEqual(['ready', 'ready', 'ready']);
    const command = (add: number, version: number): Uint8Array => {
      const f = encodeFrame({
        kind: Kind.command,
        incarnation: uuidv7(),
        commandId: uuidv7(),
        epoch: ms[0]!.epoch,
        nameBytes: encodeName(counter.name),
        body: te.encode(JSON.stringify({ t: cluster.clock.wallNow(), c: { add } })),
      });
      f[2] = version;
      return f;
    };
    for (const v of [1, WIRE_VERSION - 1, WIRE_VERSION + 1]) await raw.send(command(100, v));
    await cluster.runUntilIdle();
    expect(ms.map((m) => m.foreign)).toEqual([3, 3, 3]);
    expect(ms.map((m) => m.state.n)).toEqual([0, 0, 0]);
    // the same frame in this version is applied
    await raw.send(command(7, WIRE_VERSION));
    await cluster.runUntilIdle();
    expect(ms.map((m) => m.state.log)).toEqual([[7], [7], [7]]);
    expect(ms.map((m) => m.foreign)).toEqual([3, 3, 3]);
    expect(await write(cluster, ms[2]!, 1)).toBe(8);
    expect(new Set(ms.map((m) => m.digest())).size).toBe(1);
    expect(uncaught).toEqual([]);
  });
});
