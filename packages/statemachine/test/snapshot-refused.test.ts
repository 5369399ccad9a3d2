/**
 * A joiner refuses a snapshot whose image does not have the digest its leader announced, before
 * using it: on the in-memory cluster, a leader's chunks are rewritten on their way out (the
 * text inflated, changed, compressed and cut again, the header's tag and digest kept), and the
 * joiner never becomes ready, holds no state, and reports the mismatch; the others go on.
 */
import { describe, it, expect } from 'vitest';
import { MemoryCluster } from '@cpgkit/core/testing';
import type { Group } from '@cpgkit/core';
import { ReplicatedMap, type MachineEvent } from '../src/index.js';
import {
  Kind,
  decodeFrame,
  encodeFrame,
  encodeName,
  packChunk,
  unpackChunk,
  type SnapshotChunkHeader,
} from '../src/wire.js';
import { SEGMENT_TEXT_BYTES, SegmentReader, segmentOf } from '../src/snapshot-segments.js';

/** `group`, whose snapshot chunks go out with their text passed through `change`. */
function tampering(group: Group, change: (text: string) => string): Group {
  const held: Uint8Array[] = [];
  const send = async (data: Uint8Array): Promise<void> => {
    const f = decodeFrame(data);
    const c = f?.kind === Kind.snapshot ? unpackChunk(f.body) : undefined;
    if (f === undefined || c === undefined) return group.send(data);
    const h = c.header as SnapshotChunkHeader;
    held.push(c.bytes.slice());
    if (!h.last) return;
    const segments = new SegmentReader();
    for (const b of held.splice(0)) segments.push(b);
    const texts: Buffer[] = [];
    for (let t = segments.next(); t !== undefined; t = segments.next()) texts.push(t);
    const text = Buffer.from(change(Buffer.concat(texts).toString('utf8')), 'utf8');
    const out: Buffer[] = [];
    for (let at = 0; at < text.length; at += SEGMENT_TEXT_BYTES)
      out.push(segmentOf(text.subarray(at, at + SEGMENT_TEXT_BYTES)));
    const all = Buffer.concat(out);
    const n = Math.ceil(all.length / 4096);
    for (let i = 0; i < n; i++) {
      const body = packChunk(
        { ...h, i, last: i === n - 1 },
        all.subarray(i * 4096, (i + 1) * 4096),
      );
      await group.send(
        encodeFrame({
          kind: f.kind,
          incarnation: f.incarnation,
          epoch: f.epoch,
          nameBytes: encodeName(f.name),
          body,
        }),
      );
    }
  };
  return new Proxy(group, {
    get(target, p) {
      if (p === 'send') return send;
      const v: unknown = Reflect.get(target, p, target);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

describe('sync: a snapshot whose digest is not the announced one', () => {
  it('is refused before use: the joiner holds no state, is not ready, reports the mismatch', async () => {
    const cluster = new MemoryCluster({ nodes: 3, seed: 11 });
    const logs: string[] = [];
    // from the joiner's arrival on, every snapshot's text says `v 1235` where it said `v 1234`
    let tamper = false;
    let changed = 0;
    const change = (text: string): string => {
      const at = text.indexOf('"v 1234"');
      if (!tamper || at < 0) return text;
      changed++;
      return text.slice(0, at) + '"v 1235"' + text.slice(at + 8);
    };
    const open = (n: number, bootstrap: boolean): Promise<ReplicatedMap> =>
      ReplicatedMap.open(tampering(cluster.member(n), change), {
        groupName: 'kv',
        checkInterval: 0,
        maxChunkSize: 8192,
        bootstrap: bootstrap ? 'alone' : false,
        log: (l) => logs.push(`${n}: ${l}`),
      });
    const a = await open(1, true);
    const b = await open(2, true);
    await cluster.runUntilIdle({ advanceTime: true, maxTime: 2000 });
    const ops = Array.from({ length: 3000 }, (_, i) => ({
      op: 'set' as const,
      key: `k/${i}`,
      value: `v ${i}`,
    }));
    const loaded = a.transaction([], ops);
    await cluster.runUntilIdle({ advanceTime: true, maxTime: 30_000 });
    await loaded;
    tamper = true;
    const joiner = await open(3, false);
    const mismatches: MachineEvent[] = [];
    joiner.machine.on('mismatch', (e) => mismatches.push(e));
    await cluster.runUntilIdle({ advanceTime: true, maxTime: 30_000 });
    expect([a.status, b.status]).toEqual(['ready', 'ready']);
    expect(a.get('k/1234')).toBe('v 1234');
    expect(logs.some((l) => /^3: snapshot .* unusable: SnapshotDigestError/.test(l))).toBe(true);
    expect(changed).toBeGreaterThan(0);
    expect(mismatches.length).toBeGreaterThan(0);
    expect(joiner.status).not.toBe('ready');
    expect(joiner.machine.holdsState).toBe(false);
    const after = a.set('after', 1);
    await cluster.runUntilIdle({ advanceTime: true, maxTime: 10_000 });
    await after;
    expect(a.get('after')).toBe(1);
    for (const m of [a, b, joiner]) await m.close();
    cluster.destroy();
  }, 60_000);
});
