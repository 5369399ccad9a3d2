/**
 * Small copies without an allocation each: views into large shared buffers that are written
 * once and never reused (so every view stays valid and owned by whoever holds it).
 * @module
 */

const SLAB_SIZE = 256 * 1024;
/** Copies larger than this get a buffer of their own. */
const SMALL = 4096;

/** Hands out fresh, never-reused byte ranges for small copies. */
export class Slab {
  #buf = new ArrayBuffer(0);
  #pos = 0;

  /** A copy of `data[start, end)` as a plain Uint8Array. */
  copy(data: Uint8Array, start: number, end: number): Uint8Array {
    const len = end - start;
    if (len > SMALL) {
      const out = new Uint8Array(len);
      out.set(data.subarray(start, end));
      return out;
    }
    let pos = this.#pos;
    if (pos + len > this.#buf.byteLength) {
      this.#buf = new ArrayBuffer(SLAB_SIZE);
      pos = 0;
    }
    const out = new Uint8Array(this.#buf, pos, len);
    out.set(start === 0 && end === data.length ? data : data.subarray(start, end));
    this.#pos = (pos + len + 7) & ~7;
    return out;
  }
}
