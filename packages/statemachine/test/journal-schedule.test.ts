/** journal.ts: when a persisting replica writes (at most once per delay, at once, on close). */
import { describe, it, expect } from 'vitest';
import { VirtualClock } from '@cpgkit/core/testing';
import { Journal } from '../src/journal.js';
import type { SnapshotStore } from '../src/persistence.js';
import type { Image } from '../src/image.js';

/** A store that counts what it is asked to write. */
function countingStore(): { store: SnapshotStore; saves: bigint[]; closed: () => boolean } {
  const saves: bigint[] = [];
  let closed = false;
  const store = {
    logSize: 0,
    snapshotSize: 0,
    save: (img: Image<unknown>) => {
      saves.push(img.index);
      return Promise.resolve();
    },
    append: () => Promise.resolve(),
    close: () => {
      closed = true;
      return Promise.resolve();
    },
  } as unknown as SnapshotStore;
  return { store, saves, closed: () => closed };
}

const image = (index: number): Image<{ n: number }> => ({
  epoch: 1,
  index: BigInt(index),
  time: 0,
  members: [],
  knownNodes: [],
  replicas: [],
  gone: [],
  settled: 0,
  provenReplicas: [],
  provenGone: [],
  state: { n: index },
});

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('journal.ts: the write schedule', () => {
  it('writes once per delay however many changes, the image as it is then', async () => {
    const clock = new VirtualClock();
    const { store, saves } = countingStore();
    let current = image(1);
    const j = new Journal(store, 1 << 20, {
      clock,
      delay: 50,
      current: () => current,
      log: () => {},
    });
    j.soon();
    current = image(2);
    j.soon();
    clock.advance(49);
    await settle();
    expect(saves).toEqual([]);
    current = image(3);
    clock.advance(1);
    await settle();
    expect(saves).toEqual([3n]); // a new state (not from recorded patches): a snapshot
    expect(clock.pendingTimers).toBe(0);
  });

  it('now() replaces the scheduled write; close() writes once more and closes the store', async () => {
    const clock = new VirtualClock();
    const { store, saves, closed } = countingStore();
    let current = image(1);
    const j = new Journal(store, 1 << 20, {
      clock,
      delay: 50,
      current: () => current,
      log: () => {},
    });
    j.soon();
    await j.now();
    expect(saves).toEqual([1n]);
    expect(clock.pendingTimers).toBe(0);
    current = image(2);
    j.soon();
    await j.close(true);
    expect(saves).toEqual([1n, 2n]);
    expect(closed()).toBe(true);
    expect(clock.pendingTimers).toBe(0);
    j.soon(); // closed: nothing more
    expect(clock.pendingTimers).toBe(0);
  });

  it("now() with no write queued or running writes the caller's image in the caller's turn; one asked for meanwhile waits its turn", async () => {
    const clock = new VirtualClock();
    const { store, saves } = countingStore();
    const started: bigint[] = [];
    let current = image(1);
    const j = new Journal(store, 1 << 20, {
      clock,
      delay: 50,
      current: () => current,
      log: () => {},
      starting: (img) => {
        started.push(img.index);
        return () => undefined;
      },
    });
    const first = j.now();
    // in this turn: the write started with the image of the moment it was asked for
    expect([started, saves]).toEqual([[1n], [1n]]);
    current = image(2);
    const second = j.now(); // the first one is still running: this one waits for it
    current = image(3);
    expect(started).toEqual([1n]);
    await Promise.all([first, second]);
    expect([started, saves]).toEqual([
      [1n, 3n],
      [1n, 3n],
    ]);
  });

  it('a failed write rejects now() and is logged; later writes still run', async () => {
    const clock = new VirtualClock();
    const lines: string[] = [];
    let fail = true;
    const saves: bigint[] = [];
    const store = {
      logSize: 0,
      snapshotSize: 0,
      save: (img: Image<unknown>) => {
        if (fail) return Promise.reject(new Error('disk full'));
        saves.push(img.index);
        return Promise.resolve();
      },
      append: () => Promise.resolve(),
      close: () => Promise.resolve(),
    } as unknown as SnapshotStore;
    const j = new Journal(store, 1 << 20, {
      clock,
      delay: 50,
      current: () => image(4),
      log: (l) => lines.push(l),
    });
    await expect(j.now()).rejects.toThrow('disk full');
    await settle();
    expect(lines).toEqual(['persist failed: Error: disk full']);
    fail = false;
    await j.now();
    expect(saves).toEqual([4n]);
  });
});
