import type * as Koffi from 'koffi';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { watchFd, type FdWatch } from '../src/native/fd-watch.js';

let koffi: typeof Koffi;
let pipe: (fds: Int32Array) => number;
let write: (fd: number, buf: Buffer, n: number) => number;
let read: (fd: number, buf: Buffer, n: number) => number;
let close: (fd: number) => number;

beforeAll(async () => {
  const mod = (await import('koffi')) as typeof Koffi & { default?: typeof Koffi };
  koffi = mod.default ?? mod;
  const libc = koffi.load('libc.so.6');
  pipe = libc.func('int pipe(_Out_ int *fds)');
  write = libc.func('long write(int fd, const void *buf, size_t n)');
  read = libc.func('long read(int fd, void *buf, size_t n)');
  close = libc.func('int close(int fd)');
});

const tick = (ms = 20) => new Promise((r) => setTimeout(r, ms));

describe('watchFd (koffi.node.poll) on a pipe', () => {
  let fds: Int32Array;
  let watch: FdWatch | undefined;
  afterEach(() => {
    watch?.close();
    close(fds[0]!);
    close(fds[1]!);
  });

  function openPipe(): void {
    fds = new Int32Array(2);
    expect(pipe(fds)).toBe(0);
  }

  it('calls readable when data arrives, once per readiness, and never while idle', async () => {
    openPipe();
    const got: string[] = [];
    watch = watchFd(koffi, fds[0]!, {
      readable: () => {
        const buf = Buffer.alloc(64);
        const n = read(fds[0]!, buf, 64);
        got.push(buf.subarray(0, n).toString());
      },
      error: (e) => {
        throw e;
      },
    });
    await tick();
    expect(got).toEqual([]); // idle: nothing
    write(fds[1]!, Buffer.from('one'), 3);
    await tick();
    expect(got).toEqual(['one']);
    write(fds[1]!, Buffer.from('two'), 3);
    await tick();
    expect(got).toEqual(['one', 'two']);
  });

  it('promises resolved in the callback settle right away (microtasks run)', async () => {
    openPipe();
    let resolveIt: () => void = () => {};
    const settled = new Promise<void>((r) => (resolveIt = r));
    watch = watchFd(koffi, fds[0]!, {
      readable: () => {
        read(fds[0]!, Buffer.alloc(8), 8);
        resolveIt();
      },
      error: () => {},
    });
    const t0 = performance.now();
    write(fds[1]!, Buffer.from('x'), 1);
    await settled;
    expect(performance.now() - t0).toBeLessThan(1000);
  });

  it('stops after close(): no further callbacks', async () => {
    openPipe();
    let calls = 0;
    watch = watchFd(koffi, fds[0]!, {
      readable: () => {
        calls++;
        read(fds[0]!, Buffer.alloc(8), 8);
      },
      error: () => {},
    });
    write(fds[1]!, Buffer.from('a'), 1);
    await tick();
    expect(calls).toBe(1);
    watch.close();
    watch.close(); // idempotent
    write(fds[1]!, Buffer.from('b'), 1);
    await tick();
    expect(calls).toBe(1);
  });

  it('reports a throwing handler through error() and stops watching', async () => {
    openPipe();
    const errors: Error[] = [];
    let calls = 0;
    watch = watchFd(koffi, fds[0]!, {
      readable: () => {
        calls++;
        throw new Error('handler failed');
      },
      error: (e) => errors.push(e),
    });
    write(fds[1]!, Buffer.from('a'), 1); // never read: stays readable
    await tick(50);
    expect(errors.map((e) => e.message)).toEqual(['handler failed']);
    expect(calls).toBe(1);
  });

  it('reports a hang-up of the other end as readable (the reader then sees EOF)', async () => {
    openPipe();
    const reads: number[] = [];
    watch = watchFd(koffi, fds[0]!, {
      readable: () => {
        reads.push(read(fds[0]!, Buffer.alloc(8), 8));
        if (reads.length === 1) watch?.close();
      },
      error: () => {},
    });
    close(fds[1]!);
    await tick();
    expect(reads).toEqual([0]);
    fds[1] = -1;
  });
});
