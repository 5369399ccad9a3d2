/**
 * The two libc functions the binding needs: `memcpy` from an address libcpg handed to a callback
 * into a Buffer (one call per message body: far faster than decoding element by element), and
 * `poll` for the manual `dispatch(timeoutMs)`.
 * @module
 */
import type * as Koffi from 'koffi';

/** `POLLIN`. */
export const POLLIN = 0x001;

/** What `load.ts` binds from libc. */
export interface LibcLib {
  /** Copy `n` bytes from the address `src` into `dst` (whose memory koffi passes directly). */
  memcpyFrom(dst: Uint8Array, src: number, n: number): void;
  /** `poll(2)` over `struct pollfd[]` laid out in `fds` (8 bytes each). Returns the count, or -1. */
  poll(fds: Buffer, nfds: number, timeoutMs: number): number;
}

/** Declare the libc functions. */
export function bindLibc(lib: Koffi.LibraryHandle): LibcLib {
  return {
    // declared returning void: the result (dst) is of no use and would cost a conversion
    memcpyFrom: lib.func('void memcpy(void *dst, uintptr_t src, size_t n)'),
    poll: lib.func('int poll(void *fds, unsigned long nfds, int timeout)'),
  };
}
