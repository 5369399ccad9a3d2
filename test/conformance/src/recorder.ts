/**
 * Records a member's events and renders them as transport-independent shapes: members are
 * named by labels the test gives them (pids differ between runs and transports).
 * @module
 */
import type { GroupEvent, GroupTransport, MemberId, MembershipEvent } from '@cpgkit/core';

const dec = new TextDecoder();

/** Labels for member ids, so that shapes read `members=[a,b] joined=[b:join]`. */
export class Names {
  readonly #names = new Map<string, string>();

  /** Name `member` (call after it joined: `self` is known then). */
  add(label: string, member: GroupTransport): void {
    const id = member.self;
    this.#names.set(`${id.nodeid}:${id.pid}`, label);
  }

  /** The label of an id (`?node:pid` when unknown). */
  of(id: MemberId): string {
    return this.#names.get(`${id.nodeid}:${id.pid}`) ?? `?${id.nodeid}:${id.pid}`;
  }

  /** A membership event as a string: labels sorted, reasons kept. */
  shape(e: MembershipEvent): string {
    const members = e.members.map((m) => this.of(m)).sort();
    const joined = e.joined.map((m) => `${this.of(m)}:${m.reason}`).sort();
    const left = e.left.map((m) => `${this.of(m)}:${m.reason}`).sort();
    return `members=[${members.join(',')}] joined=[${joined.join(',')}] left=[${left.join(',')}]`;
  }
}

/** Every event a member received, in order, from when it was created. */
export class Recorder {
  readonly events: GroupEvent[] = [];

  constructor(readonly member: GroupTransport) {
    for (const type of ['message', 'membership', 'totem', 'quorum'] as const) {
      member.on(type, (e) => this.events.push(e));
    }
  }

  /** The messages, as `label:text`. */
  messages(names: Names): string[] {
    const out: string[] = [];
    for (const e of this.events) {
      if (e.type === 'message') out.push(`${names.of(e.sender)}:${dec.decode(e.data)}`);
    }
    return out;
  }

  /** The message payloads (bytes). */
  payloads(): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (const e of this.events) if (e.type === 'message') out.push(e.data);
    return out;
  }

  /** The membership events as shapes. */
  memberships(names: Names): string[] {
    const out: string[] = [];
    for (const e of this.events) if (e.type === 'membership') out.push(names.shape(e));
    return out;
  }

  /** Index of the last event of `type` (or -1). */
  lastIndexOf(type: GroupEvent['type']): number {
    for (let i = this.events.length - 1; i >= 0; i--) if (this.events[i]!.type === type) return i;
    return -1;
  }

  /** The totem events' node lists. */
  totems(): number[][] {
    const out: number[][] = [];
    for (const e of this.events) if (e.type === 'totem') out.push([...e.nodes]);
    return out;
  }

  /** Events from index `from` on, as short strings (for failure messages). */
  describe(names: Names, from = 0): string[] {
    return this.events.slice(from).map((e) => {
      switch (e.type) {
        case 'message':
          return `message ${names.of(e.sender)}:${dec.decode(e.data).slice(0, 40)}`;
        case 'membership':
          return `membership ${names.shape(e)}`;
        case 'totem':
          return `totem [${e.nodes.join(',')}]`;
        case 'quorum':
          return e.view === undefined
            ? `quorum ${e.quorate}`
            : `quorum ${e.quorate} [${e.view.nodes.join(',')}]`;
      }
    });
  }
}
