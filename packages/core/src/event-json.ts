/**
 * Group events as plain JSON (for tools, logs and the test harness): member ids without
 * extra fields, ring sequence numbers (bigint) as decimal strings, a message's bytes in
 * whatever form the caller picks.
 * @module
 */
import type { GroupEvent, MemberChange, MemberId } from './types.js';

/** A member id as JSON. */
export interface MemberIdJson {
  readonly nodeid: number;
  readonly pid: number;
}

/** A member change as JSON. */
export interface MemberChangeJson extends MemberIdJson {
  readonly reason: MemberChange['reason'];
}

/** A `GroupEvent` as JSON; `Body` is what a message's bytes become (e.g. `{ data: base64 }`). */
export type GroupEventJson<Body extends object> =
  | ({ readonly type: 'message'; readonly sender: MemberIdJson } & Body)
  | {
      readonly type: 'membership';
      readonly members: readonly MemberIdJson[];
      readonly joined: readonly MemberChangeJson[];
      readonly left: readonly MemberChangeJson[];
    }
  | {
      readonly type: 'totem';
      readonly ringId: { readonly nodeid: number; readonly seq: string };
      readonly nodes: readonly number[];
    }
  | {
      readonly type: 'quorum';
      readonly quorate: boolean;
      readonly view?: { readonly ringSeq: string; readonly nodes: readonly number[] };
    };

/** `{ nodeid, pid }` with nothing else. */
export function memberIdJson(m: MemberId): MemberIdJson {
  return { nodeid: m.nodeid, pid: m.pid };
}

/** `{ nodeid, pid, reason }` with nothing else. */
export function memberChangeJson(m: MemberChange): MemberChangeJson {
  return { nodeid: m.nodeid, pid: m.pid, reason: m.reason };
}

/**
 * An event as JSON. A message's fields are `type`, `sender`, then those `body(data)` gives.
 * @example
 * ```ts
 * const b64 = (data: Uint8Array) => ({ data: Buffer.from(data).toString('base64') });
 * for await (const e of group.events()) console.log(JSON.stringify(groupEventJson(e, b64)));
 * ```
 */
export function groupEventJson<Body extends object>(
  event: GroupEvent,
  body: (data: Uint8Array) => Body,
): GroupEventJson<Body> {
  switch (event.type) {
    case 'message':
      return { type: 'message', sender: memberIdJson(event.sender), ...body(event.data) };
    case 'membership':
      return {
        type: 'membership',
        members: event.members.map(memberIdJson),
        joined: event.joined.map(memberChangeJson),
        left: event.left.map(memberChangeJson),
      };
    case 'totem':
      return {
        type: 'totem',
        ringId: { nodeid: event.ringId.nodeid, seq: event.ringId.seq.toString() },
        nodes: [...event.nodes],
      };
    case 'quorum':
      return event.view === undefined
        ? { type: 'quorum', quorate: event.quorate }
        : {
            type: 'quorum',
            quorate: event.quorate,
            view: { ringSeq: event.view.ringSeq.toString(), nodes: [...event.view.nodes] },
          };
  }
}
