import { describe, it, expect } from 'vitest';
import { PushIterator, subscriptionIterator } from '../src/push-iterator.js';

/** Read everything until the end. */
async function drain<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const v of it) out.push(v);
  return out;
}

/** Whether `p` has settled after the pending microtasks ran. */
async function settled(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  p.then(
    () => (done = true),
    () => (done = true),
  );
  await new Promise((r) => setTimeout(r, 0));
  return done;
}

describe('PushIterator', () => {
  it('hands out pushed values in order, buffered or awaited', async () => {
    const it = new PushIterator<number>();
    it.push(1);
    it.push(2);
    expect(await it.next()).toEqual({ value: 1, done: false });
    const pending = it.next();
    const pending2 = it.next();
    it.push(2.5); // goes to nobody yet: 2 is still buffered
    expect(await pending).toEqual({ value: 2, done: false });
    expect(await pending2).toEqual({ value: 2.5, done: false });
    const waiting = it.next();
    expect(await settled(waiting)).toBe(false);
    it.push(3);
    expect(await waiting).toEqual({ value: 3, done: false });
  });

  it('serves several pending next() calls in call order', async () => {
    const it = new PushIterator<string>();
    const a = it.next();
    const b = it.next();
    const c = it.next();
    it.push('a');
    it.push('b');
    it.end();
    expect(await Promise.all([a, b, c])).toEqual([
      { value: 'a', done: false },
      { value: 'b', done: false },
      { value: undefined, done: true },
    ]);
  });

  it('end(): the buffer is read, then done for ever; later pushes are ignored', async () => {
    let ends = 0;
    const it = new PushIterator<number>({ onEnd: () => ends++ });
    it.push(1);
    it.push(2);
    it.end();
    it.push(3);
    it.end();
    expect(it.ended).toBe(true);
    expect(ends).toBe(1);
    expect(await drain(it)).toEqual([1, 2]);
    expect(await it.next()).toEqual({ value: undefined, done: true });
    expect(await drain(it)).toEqual([]);
  });

  it('end() resolves a pending next() as done', async () => {
    const it = new PushIterator<number>();
    const p = it.next();
    it.end();
    expect(await p).toEqual({ value: undefined, done: true });
  });

  it('end(error): the buffer is read, then the error once, then done', async () => {
    const it = new PushIterator<number>();
    const boom = new Error('boom');
    it.push(1);
    it.end(boom);
    expect(await it.next()).toEqual({ value: 1, done: false });
    await expect(it.next()).rejects.toBe(boom);
    expect(await it.next()).toEqual({ value: undefined, done: true });
  });

  it('end(error) rejects a pending next()', async () => {
    const it = new PushIterator<number>();
    const p = it.next();
    const boom = new Error('boom');
    it.end(boom);
    await expect(p).rejects.toBe(boom);
    expect(await it.next()).toEqual({ value: undefined, done: true });
  });

  it('initial values come first, and are read even with an already aborted signal', async () => {
    let ends = 0;
    const it = new PushIterator<number>({
      initial: [1, 2],
      signal: AbortSignal.abort(),
      onEnd: () => ends++,
    });
    expect(ends).toBe(1);
    it.push(3);
    expect(await drain(it)).toEqual([1, 2]);
    const live = new PushIterator<number>({ initial: new Set([1, 2]) });
    live.push(3);
    live.end();
    expect(await drain(live)).toEqual([1, 2, 3]);
  });

  it("abort 'end' (default): like end(), the buffer is still read", async () => {
    const ctl = new AbortController();
    let ends = 0;
    const it = new PushIterator<number>({ signal: ctl.signal, onEnd: () => ends++ });
    it.push(1);
    ctl.abort();
    expect(it.ended).toBe(true);
    expect(ends).toBe(1);
    it.push(2);
    expect(await drain(it)).toEqual([1]);

    const ctl2 = new AbortController();
    const it2 = new PushIterator<number>({ signal: ctl2.signal });
    const p = it2.next();
    ctl2.abort(new Error('why'));
    expect(await p).toEqual({ value: undefined, done: true });
  });

  it("abort 'throw': drops the buffer, rejects with the signal's reason once, then done", async () => {
    const ctl = new AbortController();
    let ends = 0;
    const it = new PushIterator<number>({
      signal: ctl.signal,
      abort: 'throw',
      onEnd: () => ends++,
    });
    it.push(1);
    const reason = new Error('stop');
    ctl.abort(reason);
    expect(ends).toBe(1);
    await expect(it.next()).rejects.toBe(reason);
    expect(await it.next()).toEqual({ value: undefined, done: true });

    const ctl2 = new AbortController();
    const it2 = new PushIterator<number>({ signal: ctl2.signal, abort: 'throw' });
    const p = it2.next();
    ctl2.abort('not an error');
    const err: unknown = await p.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DOMException);
    expect((err as DOMException).name).toBe('AbortError');
  });

  it("abort 'throw' with an already aborted signal rejects the first next()", async () => {
    const reason = new Error('early');
    const it = new PushIterator<number>({ signal: AbortSignal.abort(reason), abort: 'throw' });
    await expect(it.next()).rejects.toBe(reason);
    expect(await it.next()).toEqual({ value: undefined, done: true });
  });

  it('removes its abort listener when it ends', async () => {
    const ctl = new AbortController();
    let ends = 0;
    const it = new PushIterator<number>({ signal: ctl.signal, onEnd: () => ends++ });
    it.end();
    ctl.abort(); // no second end, no error stored
    expect(ends).toBe(1);
    expect(await it.next()).toEqual({ value: undefined, done: true });
  });

  it('return() (a break) drops the buffer and runs the cleanup once', async () => {
    let ends = 0;
    const it = new PushIterator<number>({ onEnd: () => ends++ });
    it.push(1);
    it.push(2);
    it.push(3);
    for await (const v of it) {
      expect(v).toBe(1);
      break;
    }
    expect(ends).toBe(1);
    expect(await it.return()).toEqual({ value: undefined, done: true });
    it.end();
    expect(ends).toBe(1);
    expect(await it.next()).toEqual({ value: undefined, done: true });
  });

  it('return() resolves a pending next() as done', async () => {
    const it = new PushIterator<number>();
    const p = it.next();
    await it.return();
    expect(await p).toEqual({ value: undefined, done: true });
  });

  it('is its own async iterator', () => {
    const it = new PushIterator<number>();
    expect(it[Symbol.asyncIterator]()).toBe(it);
  });

  it('keeps order across many values (the buffer is compacted when read empty)', async () => {
    const it = new PushIterator<number>();
    const got: number[] = [];
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 100; i++) it.push(round * 100 + i);
      for (let i = 0; i < 50; i++) got.push((await it.next()).value!);
    }
    it.end();
    got.push(...(await drain(it)));
    expect(got).toEqual(Array.from({ length: 300 }, (_, i) => i));
  });
});

describe('subscriptionIterator', () => {
  it('unsubscribes exactly once, however the iterator ends, also when the source ends it while subscribing', async () => {
    let offs = 0;
    let push: ((v: number) => void) | undefined;
    const it = subscriptionIterator<number>((p) => {
      push = p;
      return () => offs++;
    });
    push!(1);
    push!(2);
    expect((await it.next()).value).toBe(1);
    await it.return();
    await it.return();
    expect(offs).toBe(1);

    const early = subscriptionIterator<number>((p, end) => {
      p(7);
      end();
      return () => offs++;
    });
    expect(offs).toBe(2);
    expect(await early.next()).toEqual({ value: 7, done: false });
    expect((await early.next()).done).toBe(true);

    let subscribed = false;
    const aborted = subscriptionIterator<number>(
      () => {
        subscribed = true;
        return () => offs++;
      },
      { signal: AbortSignal.abort() },
    );
    expect(subscribed).toBe(false);
    expect((await aborted.next()).done).toBe(true);
    expect(offs).toBe(2);
  });
});
