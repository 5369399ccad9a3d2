/**
 * The sending half of the frame format (see frame.ts): batching, chunking and backpressure.
 *
 * Sends issued in the same tick are copied into one growing buffer and go out on a microtask
 * as few CPG messages as possible (each up to the driver's atomic size). A send that does not
 * fit one CPG message is chunked. When the driver says try again, packets wait in a bounded
 * queue (bytes and logical messages) until `writable()`; new sends keep filling the last
 * packet meanwhile, so batches grow under pressure.
 *
 * The hot path allocates nothing per message: the bytes are copied into the packet buffer,
 * and every send that lands in one packet shares that packet's promise.
 * @module
 */
import type { GroupDriver } from './driver.js';
import {
  CHUNK_HEADER_SIZE,
  ENTRY_OVERHEAD,
  HEADER_SIZE,
  KIND_BATCH,
  chunkHeader,
  encodePayload,
  startsWithMagic,
  writeHeader,
  writeU32,
} from './frame.js';
import { MessageTooLargeError, QueueFullError } from './errors.js';
import { abortReason } from './wait.js';

/** Limits of the send queue. */
export interface OutboxLimits {
  /** The largest logical message (and the largest `send([...])` in total). */
  readonly maxMessageSize: number;
  /** Bytes of messages accepted by `send` but not yet by the engine. */
  readonly maxQueueBytes: number;
  /** Logical messages accepted by `send` but not yet by the engine. */
  readonly maxQueueMessages: number;
  /** The largest CPG message a batch fills (capped by the engine's atomic size). */
  readonly batchBytes?: number;
}

/** The packets of one `send` that has a signal. */
interface Owner {
  sent: boolean;
}

/** One future CPG message. */
interface Packet {
  /** Batch under construction (entries from offset HEADER_SIZE), or null for a sealed one. */
  buf: Uint8Array | null;
  pos: number;
  count: number;
  magicFirst: boolean;
  /** Set when sealed: what goes to `mcast`. */
  parts: readonly Uint8Array[] | null;
  bytes: number;
  messages: number;
  promise: Promise<void> | null;
  resolve: (() => void) | null;
  reject: ((e: unknown) => void) | null;
  /** Packets of one `send` with a signal share an owner, so that they can be withdrawn. */
  owner: Owner | null;
}

function newPacket(buf: Uint8Array | null, parts: readonly Uint8Array[] | null): Packet {
  return {
    buf,
    pos: HEADER_SIZE,
    count: 0,
    magicFirst: false,
    parts,
    bytes: 0,
    messages: 0,
    promise: null,
    resolve: null,
    reject: null,
    owner: null,
  };
}

function promiseOf(p: Packet): Promise<void> {
  if (!p.promise) {
    p.promise = new Promise<void>((resolve, reject) => {
      p.resolve = resolve;
      p.reject = reject;
    });
  }
  return p.promise;
}

const INITIAL_BUFFER = 4096;

/** The send queue of one member. */
export class Outbox {
  readonly #limits: OutboxLimits;
  #driver: GroupDriver | null = null;
  #capacity = 0;
  /** How full a batch gets: the atomic size, or less (`batchBytes`). */
  #batchCapacity = 0;
  #queue: (Packet | undefined)[] = [];
  #head = 0;
  #open: Packet | null = null;
  #spare: Uint8Array | null = null;
  #blocked = false;
  #scheduled = false;
  #queuedBytes = 0;
  #queuedMessages = 0;
  #chunkId = 0;
  readonly #flush = (): void => {
    this.#scheduled = false;
    this.flush();
  };

  constructor(limits: OutboxLimits) {
    this.#limits = limits;
  }

  /** Bytes waiting for the engine. */
  get queuedBytes(): number {
    return this.#queuedBytes;
  }

  /** Logical messages waiting for the engine. */
  get queuedMessages(): number {
    return this.#queuedMessages;
  }

  /** Send through `driver` from now on (after a join). */
  attach(driver: GroupDriver): void {
    this.#driver = driver;
    this.#capacity = driver.maxMessageSize;
    this.#batchCapacity = Math.min(this.#capacity, this.#limits.batchBytes ?? this.#capacity);
    this.#blocked = false;
  }

  /** Stop sending (leave or close); the caller fails what is queued. */
  detach(): void {
    this.#driver = null;
    this.#blocked = false;
  }

  /** Queue one message, or several delivered as consecutive messages. */
  send(data: Uint8Array | readonly Uint8Array[], signal?: AbortSignal): Promise<void> {
    if (signal) return this.#sendWithSignal(data, signal);
    if (data instanceof Uint8Array) return this.#sendOne(data);
    return this.#sendMany(data);
  }

  #sendOne(data: Uint8Array): Promise<void> {
    const len = data.length;
    if (len > this.#limits.maxMessageSize) {
      return Promise.reject(new MessageTooLargeError(len, this.#limits.maxMessageSize));
    }
    const full = this.#checkRoom(len, 1);
    if (full) return Promise.reject(full);
    const need = ENTRY_OVERHEAD + len;
    let p: Packet;
    if (HEADER_SIZE + need <= this.#batchCapacity) {
      p = this.#room(need);
      this.#append(p, data);
    } else {
      this.#open = null;
      p = this.#pushPayload(startsWithMagic(data) ? encodePayload([data]) : data, 1, null);
    }
    this.#schedule();
    return promiseOf(p);
  }

  #sendMany(list: readonly Uint8Array[]): Promise<void> {
    const n = list.length;
    if (n === 0) return Promise.resolve();
    if (n === 1) return this.#sendOne(list[0]!);
    let total = 0;
    let need = 0;
    for (let i = 0; i < n; i++) {
      const m = list[i];
      if (!(m instanceof Uint8Array)) {
        return Promise.reject(new TypeError('send() takes a Uint8Array or an array of them'));
      }
      total += m.length;
      need += ENTRY_OVERHEAD + m.length;
    }
    if (total > this.#limits.maxMessageSize) {
      return Promise.reject(new MessageTooLargeError(total, this.#limits.maxMessageSize));
    }
    const full = this.#checkRoom(total, n);
    if (full) return Promise.reject(full);
    let p: Packet;
    if (HEADER_SIZE + need <= this.#batchCapacity) {
      // All in one CPG message, so that nothing comes between them.
      p = this.#room(need);
      for (let i = 0; i < n; i++) this.#append(p, list[i]!);
    } else {
      this.#open = null;
      p = this.#pushPayload(encodePayload(list), n, null);
    }
    this.#schedule();
    return promiseOf(p);
  }

  #sendWithSignal(data: Uint8Array | readonly Uint8Array[], signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.reject(abortReason(signal));
    const list = data instanceof Uint8Array ? [data] : data;
    if (list.length === 0) return Promise.resolve();
    let total = 0;
    for (const m of list) {
      if (!(m instanceof Uint8Array)) {
        return Promise.reject(new TypeError('send() takes a Uint8Array or an array of them'));
      }
      total += m.length;
    }
    if (total > this.#limits.maxMessageSize) {
      return Promise.reject(new MessageTooLargeError(total, this.#limits.maxMessageSize));
    }
    const full = this.#checkRoom(total, list.length);
    if (full) return Promise.reject(full);
    // Own packets (a copy), so that the send can be withdrawn without touching others.
    this.#open = null;
    const owner: Owner = { sent: false };
    const payload = encodePayload(list.map((m) => m.slice()));
    const last = this.#pushPayload(payload, list.length, owner);
    const promise = promiseOf(last);
    const onAbort = (): void => this.#withdraw(owner, abortReason(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      () => signal.removeEventListener('abort', onAbort),
      () => signal.removeEventListener('abort', onAbort),
    );
    this.#schedule();
    return promise;
  }

  /** Remove the packets of `owner` if none of them has gone out yet. */
  #withdraw(owner: Owner, reason: unknown): void {
    // A chunked payload whose first piece is out cannot be withdrawn; only whole ones.
    if (owner.sent) return;
    const q = this.#queue;
    const removed = q.filter((p, i) => i >= this.#head && p?.owner === owner) as Packet[];
    this.#queue = q.filter((p, i) => i < this.#head || p?.owner !== owner);
    for (const p of removed) {
      this.#queuedBytes -= p.bytes;
      this.#queuedMessages -= p.messages;
      p.reject?.(reason);
    }
  }

  #checkRoom(bytes: number, messages: number): QueueFullError | null {
    if (this.#queuedMessages === 0) return null; // one send always fits an empty queue
    if (
      this.#queuedBytes + bytes > this.#limits.maxQueueBytes ||
      this.#queuedMessages + messages > this.#limits.maxQueueMessages
    ) {
      return new QueueFullError(
        `send queue full (${this.#queuedMessages} messages, ${this.#queuedBytes} bytes waiting for ` +
          'corosync): await earlier sends before sending more, or raise maxQueueBytes/maxQueueMessages',
      );
    }
    return null;
  }

  /** The open packet, with room for `need` more bytes (a new one if it has none). */
  #room(need: number): Packet {
    let p = this.#open;
    if (!p || p.pos + need > this.#batchCapacity) {
      let buf = this.#spare;
      this.#spare = null;
      if (!buf || buf.length < HEADER_SIZE + need) {
        buf = new Uint8Array(
          Math.min(this.#batchCapacity, Math.max(INITIAL_BUFFER, HEADER_SIZE + need)),
        );
      }
      p = newPacket(buf, null);
      this.#open = p;
      this.#queue.push(p);
    } else if (p.buf!.length < p.pos + need) {
      const grown = new Uint8Array(
        Math.min(this.#batchCapacity, Math.max(p.buf!.length * 2, p.pos + need)),
      );
      grown.set(p.buf!.subarray(0, p.pos));
      p.buf = grown;
    }
    return p;
  }

  #append(p: Packet, data: Uint8Array): void {
    const buf = p.buf!;
    const pos = p.pos;
    const len = data.length;
    writeU32(buf, pos, len);
    buf.set(data, pos + ENTRY_OVERHEAD);
    p.pos = pos + ENTRY_OVERHEAD + len;
    if (p.count++ === 0) p.magicFirst = startsWithMagic(data);
    p.bytes += len;
    p.messages++;
    this.#queuedBytes += len;
    this.#queuedMessages++;
  }

  /** Queue an encoded payload as one raw/framed CPG message, or as chunks. Returns the last. */
  #pushPayload(payload: Uint8Array, messages: number, owner: Owner | null): Packet {
    const cap = this.#capacity;
    this.#queuedMessages += messages;
    if (payload.length <= cap) {
      const p = newPacket(null, [payload]);
      p.bytes = payload.length;
      p.messages = messages;
      p.owner = owner;
      this.#queuedBytes += payload.length;
      this.#queue.push(p);
      return p;
    }
    const id = this.#chunkId;
    this.#chunkId = (id + 1) >>> 0;
    const piece = cap - CHUNK_HEADER_SIZE;
    const total = payload.length;
    let p: Packet | null = null;
    for (let off = 0; off < total; off += piece) {
      const end = Math.min(total, off + piece);
      p = newPacket(null, [chunkHeader(id, total, off), payload.subarray(off, end)]);
      p.bytes = end - off;
      p.owner = owner;
      this.#queuedBytes += p.bytes;
      this.#queue.push(p);
    }
    p!.messages = messages;
    return p!;
  }

  #seal(p: Packet): void {
    if (this.#open === p) this.#open = null;
    const buf = p.buf!;
    if (p.count === 1 && !p.magicFirst) {
      p.parts = [buf.subarray(HEADER_SIZE + ENTRY_OVERHEAD, p.pos)];
    } else {
      writeHeader(buf, KIND_BATCH);
      p.parts = [buf.subarray(0, p.pos)];
    }
  }

  #schedule(): void {
    if (!this.#scheduled) {
      this.#scheduled = true;
      queueMicrotask(this.#flush);
    }
  }

  /** The engine may take messages again. */
  writable(): void {
    this.#blocked = false;
    this.flush();
  }

  /** Hand queued packets to the driver until it says try again. */
  flush(): void {
    const d = this.#driver;
    if (!d || this.#blocked) return;
    const q = this.#queue;
    while (this.#head < q.length) {
      const p = q[this.#head]!;
      if (!p.parts) this.#seal(p);
      let ok: boolean;
      try {
        ok = d.mcast(p.parts!);
      } catch (error) {
        this.failAll(error);
        return;
      }
      if (!ok) {
        this.#blocked = true;
        return;
      }
      q[this.#head++] = undefined;
      this.#queuedBytes -= p.bytes;
      this.#queuedMessages -= p.messages;
      if (p.buf && (!this.#spare || this.#spare.length < p.buf.length)) this.#spare = p.buf;
      p.buf = null;
      p.parts = null;
      if (p.owner) p.owner.sent = true;
      if (p.resolve) p.resolve();
    }
    q.length = 0;
    this.#head = 0;
  }

  /** Reject everything queued with `error` and empty the queue. */
  failAll(error: unknown): void {
    const q = this.#queue;
    const head = this.#head;
    this.#queue = [];
    this.#head = 0;
    this.#open = null;
    this.#queuedBytes = 0;
    this.#queuedMessages = 0;
    for (let i = head; i < q.length; i++) q[i]?.reject?.(error);
  }
}
