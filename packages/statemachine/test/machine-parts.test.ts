import { describe, it, expect } from 'vitest';
import type { Patch } from 'immer';
import { acksAtOnce, commitIndex } from '../src/acks.js';
import { AckOrder } from '../src/ack-order.js';
import type { Decision, Summary } from '../src/sync.js';
import { applyCommand, applyMembership, applyTick } from '../src/apply.js';
import { tallyDigests } from '../src/digest-check.js';
import { chunksComplete } from '../src/snapshot-transfer.js';
import {
  decodeFrame,
  encodeFrame,
  encodeName,
  packChunk,
  parseChunkBody,
  Kind,
} from '../src/wire.js';
import type { Image } from '../src/image.js';
import type { MachineDefinition } from '../src/types.js';

describe('acks.ts: commitIndex', () => {
  it('is the index a strict majority of Q applied, counting ourselves', () => {
    const q = ['a', 'b', 'c'];
    expect(commitIndex(q, 'a', 9n, new Map())).toBe(0n);
    expect(commitIndex(q, 'a', 9n, new Map([['b', 7n]]))).toBe(7n);
    expect(
      commitIndex(
        q,
        'a',
        9n,
        new Map([
          ['b', 7n],
          ['c', 12n],
        ]),
      ),
    ).toBe(9n);
    // replicas outside Q do not count
    expect(commitIndex(q, 'a', 9n, new Map([['x', 9n]]))).toBe(0n);
    expect(commitIndex(['a', 'b', 'c', 'd'], 'a', 9n, new Map([['b', 9n]]))).toBe(0n);
    expect(
      commitIndex(
        ['a', 'b', 'c', 'd'],
        'a',
        9n,
        new Map([
          ['b', 9n],
          ['c', 8n],
        ]),
      ),
    ).toBe(8n);
    expect(commitIndex([], 'a', 4n, new Map())).toBe(4n);
  });
});

describe('acks.ts: acksAtOnce', () => {
  const ackers = (q: string[], w: string) => q.filter((x) => acksAtOnce(q, w, x));
  it('in a Q of 3 or 4 every other replica acks at once; never the writer', () => {
    expect(ackers(['a', 'b', 'c'], 'b')).toEqual(['a', 'c']);
    expect(ackers(['a', 'b', 'c', 'd'], 'a')).toEqual(['b', 'c', 'd']);
    expect(acksAtOnce(['a', 'b'], 'a', 'b')).toBe(true);
  });
  it('in a Q of 5 or 7, the ⌊n/2⌋ + 1 that follow the writer around Q: a strict majority without it', () => {
    const q5 = ['a', 'b', 'c', 'd', 'e'];
    expect(ackers(q5, 'a')).toEqual(['b', 'c', 'd']);
    expect(ackers(q5, 'd')).toEqual(['a', 'b', 'e']);
    const q7 = ['a', 'b', 'c', 'd', 'e', 'f', 'g'];
    expect(ackers(q7, 'f')).toEqual(['a', 'b', 'c', 'g']);
    // every replica is left out for some writer: the acking rotates
    for (const x of q7) expect(q7.some((w) => w !== x && !acksAtOnce(q7, w, x))).toBe(true);
  });
  it('a writer or a replica outside Q acks at once (a last proven Q while the epoch is unproven)', () => {
    const q5 = ['a', 'b', 'c', 'd', 'e'];
    expect(acksAtOnce(q5, 'x', 'e')).toBe(true);
    expect(acksAtOnce(q5, 'a', 'x')).toBe(true);
  });
});

describe('ack-order.ts: AckOrder', () => {
  // replica ids in another order than the nodes': Q sorted by id is [a, b, c, d, e]
  const ids = ['d', 'a', 'e', 'c', 'b'];
  const participants = ids.map(
    (replica, i) => ({ nodeid: i + 1, pid: 7, incarnation: `inc${i + 1}`, replica }) as Summary,
  );
  const source = (self: string, replicas = [...ids].sort()) => ({
    round: { decision: { participants } as unknown as Decision },
    image: { replicas },
    replica: self,
  });
  it("follows the round's node order, not Q's order by replica id", () => {
    // the writer on node 1 (replica d): nodes 2, 3, 4 (a, e, c) ack at once, node 5 (b) not
    const atOnce = ids.map((self) => new AckOrder(source(self)).atOnce('inc1'));
    expect(atOnce).toEqual([false, true, true, true, false]);
    // the writer on node 4 (c): nodes 5, 1, 2 (b, d, a)
    expect(ids.map((self) => new AckOrder(source(self)).atOnce('inc4'))).toEqual([
      true,
      true,
      false,
      false,
      true,
    ]);
  });
  it('a writer it cannot place acks at once; a Q that changed is read again', () => {
    const s = source('b');
    const order = new AckOrder(s);
    expect(order.atOnce('unknown')).toBe(true);
    expect(order.atOnce('inc1')).toBe(false);
    // Q shrank to three (a retire): every other replica acks at once
    s.image = { replicas: ['a', 'b', 'd'] };
    expect(order.atOnce('inc1')).toBe(true);
  });
});

const counter: MachineDefinition<{ n: number; m: number }, { add: number }, number> = {
  name: 'counter',
  initial: { n: 0, m: 0 },
  apply(d, c) {
    if (c.add < 0) throw new RangeError('negative');
    d.n += c.add;
    return d.n;
  },
  onTick(d) {
    d.m++;
  },
  onMembership(d, change) {
    d.m = change.members.length;
  },
  isCommand: (c: unknown): c is { add: number } => typeof (c as { add?: unknown }).add === 'number',
};

const image = (): Image<{ n: number; m: number }> => ({
  epoch: 3,
  index: 5n,
  time: 100,
  members: [],
  knownNodes: [],
  replicas: [],
  gone: [],
  settled: 0,
  provenReplicas: [],
  provenGone: [],
  state: { n: 1, m: 0 },
});
const sender = { nodeid: 1, pid: 2, incarnation: 'x' };

describe('apply.ts: one entry, as a pure function', () => {
  it('applies a command at the next index, with non-decreasing time and patches', () => {
    const img = image();
    const patches: Patch[] = [];
    const r = applyCommand(
      img,
      { command: { add: 2 }, sender, commandId: 'c', t: 50 },
      counter,
      patches,
    );
    expect(r.outcome).toEqual({ ok: true, result: 3 });
    expect(r.image.index).toBe(6n);
    expect(r.image.time).toBe(100);
    expect(r.image.state).toEqual({ n: 3, m: 0 });
    expect(img.state).toEqual({ n: 1, m: 0 });
    expect(patches).toEqual([{ op: 'replace', path: ['n'], value: 3 }]);
    expect(r.change.kind === 'command' && r.change.ctx.epoch).toBe(3);
  });

  it('a throw or a malformed command fails it, keeps the state, still takes the index', () => {
    const patches: Patch[] = [];
    const r = applyCommand(
      image(),
      { command: { add: -1 }, sender, commandId: 'c', t: 200 },
      counter,
      patches,
    );
    expect(r.outcome).toMatchObject({ ok: false, name: 'RangeError', message: 'negative' });
    expect(r.image.state).toEqual({ n: 1, m: 0 });
    expect(r.image.index).toBe(6n);
    expect(r.image.time).toBe(200);
    expect(patches).toEqual([]);
    const bad = applyCommand(
      image(),
      { command: { nope: 1 } as never, sender, commandId: 'c', t: 0 },
      counter,
      undefined,
    );
    expect(bad.outcome).toMatchObject({ ok: false, name: 'InvalidCommandError' });
  });

  it('uses reduce when the definition has one', () => {
    const def = {
      ...counter,
      reduce: (s: { n: number; m: number }) => ({ state: { ...s, n: 42 }, result: -1 }),
    };
    const r = applyCommand(
      image(),
      { command: { add: 1 }, sender, commandId: 'c', t: 0 },
      def,
      undefined,
    );
    expect(r.outcome).toEqual({ ok: true, result: -1 });
    expect(r.image.state.n).toBe(42);
  });

  it('applies ticks and membership changes at the next index', () => {
    const t = applyTick(image(), 300, counter, undefined, () => undefined);
    expect(t.image.state.m).toBe(1);
    expect(t.image.index).toBe(6n);
    expect(t.image.time).toBe(300);
    const now = [
      { nodeid: 1, pid: 1, incarnation: 'a' },
      { nodeid: 2, pid: 1, incarnation: 'b' },
    ];
    const m = applyMembership(image(), now, 4, 150, counter, undefined, () => undefined);
    expect(m?.image.members).toEqual(now);
    expect(m?.image.state.m).toBe(2);
    expect(m?.image.index).toBe(6n);
    expect(
      applyMembership(m!.image, now, 4, 150, counter, undefined, () => undefined),
    ).toBeUndefined();
  });
});

describe('digest-check.ts: tallyDigests', () => {
  it('waits for every expected digest, then names the most common one', () => {
    const got = new Map([['1:1', 'x']]);
    const c = { expected: ['1:1', '2:1', '3:1'], mine: 'x', index: 1n, got };
    expect(tallyDigests(c)).toBeUndefined();
    got.set('2:1', 'y');
    got.set('3:1', 'y');
    expect(tallyDigests(c)).toEqual({ digest: 'y', from: '2:1' });
  });
});

describe('snapshot-transfer.ts: chunks', () => {
  it('frames a chunk with its header (tag, position, last, digest) and tells a gap', () => {
    const nameBytes = encodeName('m');
    const bytes = new Uint8Array(2500).map((_, i) => i % 251);
    const f = encodeFrame({
      kind: Kind.snapshot,
      incarnation: '01890a5d-ac96-774b-bcce-b302099a8057',
      epoch: 1,
      nameBytes,
      body: packChunk({ tag: 't#1', i: 2, last: true, digest: 'dg' }, bytes),
    });
    const back = parseChunkBody(decodeFrame(f)!.body)!;
    expect(back.header).toEqual({ tag: 't#1', i: 2, last: true, digest: 'dg' });
    expect([...back.bytes]).toEqual([...bytes]);
    const parts = [bytes.subarray(0, 1), bytes.subarray(1, 2), bytes.subarray(2)];
    expect(chunksComplete(parts, 3)).toEqual({ complete: true });
    expect(chunksComplete([parts[0]!, undefined, parts[2]!], 3)).toEqual({
      missing: true,
      got: 2,
    });
    expect(chunksComplete([parts[0]!], 3)).toEqual({ missing: true, got: 1 });
  });
});
