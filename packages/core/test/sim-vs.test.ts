import { describe, it, expect } from 'vitest';
import { MemoryCluster, Random } from '../src/testing.js';
import type { Group } from '../src/group.js';
import type { MemberId } from '../src/types.js';

const enc = new TextEncoder();
const dec = new TextDecoder();

/** What one member saw: messages, split at each membership event (keyed by its identity). */
interface Seen {
  readonly self: () => MemberId;
  readonly segments: { from: object | null; to: object | null; messages: string[] }[];
}

function watch(g: Group): Seen {
  const seen: Seen = { self: () => g.self, segments: [{ from: null, to: null, messages: [] }] };
  g.on('message', (m) => seen.segments.at(-1)!.messages.push(dec.decode(m.data)));
  g.on('membership', (e) => {
    // The cluster hands the same members array to every receiver of one configuration change.
    seen.segments.at(-1)!.to = e.members;
    seen.segments.push({ from: e.members, to: null, messages: [] });
  });
  return seen;
}

async function schedule(seed: number): Promise<{ seen: Seen[]; cluster: MemoryCluster }> {
  const rng = new Random(seed);
  const nodes = 3 + rng.int(3);
  const cluster = new MemoryCluster({ nodes, seed });
  const members: Group[] = [];
  const seen: Seen[] = [];
  const add = async (): Promise<void> => {
    const up = cluster.nodeIds.filter((n) => cluster.isUp(n));
    if (up.length === 0) return;
    const g = cluster.transport(up[rng.int(up.length)]!);
    seen.push(watch(g));
    members.push(g);
    await g.join('vs').catch(() => {});
  };
  for (let i = 0; i < nodes; i++) await add();
  let counter = 0;
  for (let step = 0; step < 25; step++) {
    const live = members.filter((m) => m.joined);
    for (const m of live) {
      const burst = rng.int(4);
      for (let k = 0; k < burst; k++) void m.send(enc.encode(`${counter++}`)).catch(() => {});
    }
    const op = rng.int(10);
    if (op === 0) {
      const ids = [...cluster.nodeIds];
      const cut = 1 + rng.int(ids.length - 1);
      cluster.partition(ids.slice(0, cut), ids.slice(cut));
    } else if (op === 1) cluster.heal();
    else if (op === 2 && live.length > 0) cluster.crashProcess(live[rng.int(live.length)]!);
    else if (op === 3) cluster.crashNode(cluster.nodeIds[rng.int(nodes)]!);
    else if (op === 4) for (const n of cluster.nodeIds) cluster.restartNode(n);
    else if (op === 5) await add();
    else if (op === 6 && live.length > 0) await live[rng.int(live.length)]!.leave();
    if (rng.chance(0.5)) await cluster.runUntilIdle();
    else await new Promise((r) => setImmediate(r));
  }
  await cluster.runUntilIdle();
  return { seen, cluster };
}

describe('MemoryCluster under seeded fault schedules', () => {
  it('keeps virtual synchrony: members passing through the same two views deliver the same messages', async () => {
    let compared = 0;
    for (let seed = 0; seed < 60; seed++) {
      const { seen, cluster } = await schedule(seed);
      const bySpan = new Map<object, Map<object, string[]>>();
      for (const s of seen) {
        for (const seg of s.segments) {
          if (!seg.from || !seg.to) continue;
          const inner = bySpan.get(seg.from) ?? new Map<object, string[]>();
          bySpan.set(seg.from, inner);
          const other = inner.get(seg.to);
          if (other) {
            expect(seg.messages, `seed ${seed}`).toEqual(other);
            compared++;
          } else inner.set(seg.to, seg.messages);
        }
      }
      // Self-delivery and per-sender order: every member saw its own messages in order.
      for (const s of seen) {
        const all = s.segments.flatMap((x) => x.messages).map(Number);
        expect(
          all.every((v, i) => i === 0 || all.indexOf(v) === i),
          `seed ${seed}: duplicates`,
        ).toBe(true);
      }
      cluster.destroy();
    }
    expect(compared).toBeGreaterThan(100);
  }, 60_000);
});
