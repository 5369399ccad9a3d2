/**
 * The native staging area `mcast` copies a message into: one `struct iovec` in native memory
 * that points at a native buffer. Each send copies its parts there (`Uint8Array.set`, a memcpy)
 * and calls `cpg_mcast_joined(handle, AGREED, iov, 1)` with nothing but numbers and one fixed
 * pointer, so koffi converts no struct, array or Buffer per call. One iovec also keeps us far
 * below libcpg's unchecked limit of 64. libcpg copies the message before `cpg_mcast_joined`
 * returns, so one staging area serves every connection of the process.
 * @module
 */
import type * as Koffi from 'koffi';

/** A growable native buffer with its one-entry iovec. */
export interface SendBuffer {
  /** The `struct iovec *` to pass to `cpg_mcast_joined`. */
  readonly iov: unknown;
  /** Copy `parts` into the buffer (growing it if needed) and point the iovec at them. Returns the total length. */
  load(parts: readonly Uint8Array[]): number;
}

const littleEndian = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
const INITIAL = 64 * 1024;

/** Allocate a send buffer (never freed: one per process). */
export function createSendBuffer(koffi: typeof Koffi): SendBuffer {
  // struct iovec { void *iov_base; size_t iov_len; }: 16 bytes on 64-bit targets, 8 on 32-bit
  const wide = koffi.sizeof('void *') === 8;
  const iovSize = wide ? 16 : 8;
  const iov = koffi.alloc('uint8_t', iovSize) as unknown;
  const iovBytes = koffi.view(iov, iovSize);
  // iov_len written as a 32-bit word: no BigInt per send (messages stay far below 4 GiB)
  const iovWords = new Uint32Array(iovBytes);
  const lenLow = wide ? (littleEndian ? 2 : 3) : 1;
  if (wide) iovWords[littleEndian ? 3 : 2] = 0;
  const setBase = (address: bigint) => {
    if (wide) new BigUint64Array(iovBytes)[0] = address;
    else iovWords[0] = Number(address);
  };
  let capacity = 0;
  let data: unknown = null;
  let view = new Uint8Array(0);
  const grow = (size: number) => {
    let next = Math.max(INITIAL, capacity);
    while (next < size) next *= 2;
    const fresh = koffi.alloc('uint8_t', next) as unknown;
    if (data !== null) koffi.free(data);
    data = fresh;
    capacity = next;
    view = new Uint8Array(koffi.view(fresh, next));
    setBase(koffi.address(fresh));
  };
  grow(INITIAL);
  return {
    iov,
    load(parts) {
      let total = 0;
      for (const p of parts) total += p.length;
      if (total > capacity) grow(total);
      if (parts.length === 1) {
        view.set(parts[0]!, 0);
      } else {
        let at = 0;
        for (const p of parts) {
          view.set(p, at);
          at += p.length;
        }
      }
      iovWords[lenLow] = total;
      return total;
    },
  };
}
