/**
 * A one-member stand-in for a `GroupTransport` that needs no engine: join makes us the only
 * member, every send comes straight back to us. Used to test the agent protocol itself (and
 * the spawn path) where no corosync runs; never a substitute for a real transport in a suite.
 * @module
 */
import {
  GroupClosedError,
  NotJoinedError,
  realClock,
  type GroupEvent,
  type GroupEventOf,
  type GroupEventType,
  type GroupInfo,
  type GroupTransport,
  type MemberId,
} from '@cpgkit/core';
import { EventHub } from './event-hub.js';

/** A single-member loopback group (kind `memory`, node id 0). */
export class LoopbackMember implements GroupTransport {
  readonly kind = 'memory' as const;
  readonly clock = realClock;
  readonly maxMessageSize = 1 << 20;
  readonly quorate = true;
  readonly #hub = new EventHub();
  readonly #id: MemberId = { nodeid: 0, pid: process.pid };
  #name: string | undefined;
  #joinedOnce = false;
  #closed = false;
  #resolveClosed!: (value: void | Error) => void;
  readonly #closedPromise = new Promise<void | Error>((resolve) => {
    this.#resolveClosed = resolve;
  });

  get name(): string | undefined {
    return this.#name;
  }

  get joined(): boolean {
    return this.#name !== undefined && !this.#closed;
  }

  get self(): MemberId {
    if (!this.#joinedOnce) throw new NotJoinedError('not joined yet');
    return this.#id;
  }

  join(name: string): Promise<void> {
    if (this.#closed) return Promise.reject(new GroupClosedError('closed'));
    this.#name = name;
    this.#joinedOnce = true;
    queueMicrotask(() => {
      this.#hub.emit({ type: 'totem', ringId: { nodeid: 0, seq: 1n }, nodes: [0] });
      this.#hub.emit({
        type: 'membership',
        members: [this.#id],
        joined: [{ ...this.#id, reason: 'join' }],
        left: [],
      });
      this.#hub.emit({ type: 'quorum', quorate: true });
    });
    return Promise.resolve();
  }

  leave(): Promise<void> {
    if (!this.joined) return Promise.reject(new NotJoinedError('not joined'));
    this.#name = undefined;
    this.#hub.emit({
      type: 'membership',
      members: [],
      joined: [],
      left: [{ ...this.#id, reason: 'leave' }],
    });
    return Promise.resolve();
  }

  send(data: Uint8Array | readonly Uint8Array[]): Promise<void> {
    if (this.#closed) return Promise.reject(new GroupClosedError('closed'));
    if (!this.joined) return Promise.reject(new NotJoinedError('not joined'));
    const parts = data instanceof Uint8Array ? [data] : [...data];
    queueMicrotask(() => {
      for (const p of parts) this.#hub.emit({ type: 'message', sender: this.#id, data: p.slice() });
    });
    return Promise.resolve();
  }

  members(): readonly MemberId[] {
    return this.joined ? [this.#id] : [];
  }

  groups(): Promise<GroupInfo[]> {
    const name = this.#name;
    return Promise.resolve(
      name === undefined
        ? []
        : [{ group: name, nameBytes: new TextEncoder().encode(name), members: [this.#id] }],
    );
  }

  on<T extends GroupEventType>(type: T, handler: (event: GroupEventOf<T>) => void): () => void {
    return this.#hub.on(type, handler);
  }

  events(options: { signal?: AbortSignal } = {}): AsyncIterableIterator<GroupEvent> {
    return this.#hub.events(options);
  }

  [Symbol.asyncIterator](): AsyncIterator<GroupEvent> {
    return this.#hub.events();
  }

  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#hub.end();
      this.#resolveClosed();
    }
    return Promise.resolve();
  }

  closed(): Promise<void | Error> {
    return this.#closedPromise;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
