/**
 * How the group commands print members and events: one JSON object a line (`--json`), or a
 * short human line.
 * @module
 */
import type { GroupEvent, MemberChange, MemberId } from '@cpgkit/core';

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** `bytes` as text when they are valid UTF-8, else `undefined`. */
export function utf8OrUndefined(bytes: Uint8Array): string | undefined {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return undefined;
  }
}

/** `{ nodeid, pid }` with nothing else (for JSON). */
export function memberJson(m: MemberId): { nodeid: number; pid: number } {
  return { nodeid: m.nodeid, pid: m.pid };
}

function changeJson(m: MemberChange): { nodeid: number; pid: number; reason: string } {
  return { nodeid: m.nodeid, pid: m.pid, reason: m.reason };
}

/**
 * An event as one JSON object: messages carry `data` (UTF-8 text) or, when the bytes are not
 * valid UTF-8, `base64` instead; the ring sequence number is a decimal string.
 */
export function eventJson(event: GroupEvent): Record<string, unknown> {
  switch (event.type) {
    case 'message': {
      const text = utf8OrUndefined(event.data);
      return {
        type: 'message',
        sender: memberJson(event.sender),
        ...(text === undefined
          ? { base64: Buffer.from(event.data).toString('base64') }
          : { data: text }),
      };
    }
    case 'membership':
      return {
        type: 'membership',
        members: event.members.map(memberJson),
        joined: event.joined.map(changeJson),
        left: event.left.map(changeJson),
      };
    case 'totem':
      return {
        type: 'totem',
        ringId: { nodeid: event.ringId.nodeid, seq: event.ringId.seq.toString() },
        nodes: [...event.nodes],
      };
    case 'quorum':
      return { type: 'quorum', quorate: event.quorate };
  }
}

/** `1:1234` (node id, pid). */
export function memberText(m: MemberId): string {
  return `${m.nodeid}:${m.pid}`;
}

function changesText(list: readonly MemberChange[]): string {
  return list.length === 0 ? '-' : list.map((m) => `${memberText(m)} (${m.reason})`).join(' ');
}

/** An event as one human line. */
export function eventText(event: GroupEvent): string {
  switch (event.type) {
    case 'message': {
      const text = utf8OrUndefined(event.data);
      const body =
        text === undefined
          ? `<${event.data.byteLength} bytes, not UTF-8: base64 ${Buffer.from(event.data).toString('base64')}>`
          : text;
      return `message ${memberText(event.sender)}: ${body}`;
    }
    case 'membership':
      return `membership: members ${event.members.map(memberText).join(' ') || '-'}; joined ${changesText(event.joined)}; left ${changesText(event.left)}`;
    case 'totem':
      return `totem: ring ${event.ringId.nodeid}.${event.ringId.seq.toString(16)}, nodes ${event.nodes.join(' ')}`;
    case 'quorum':
      return `quorum: ${event.quorate ? 'quorate' : 'NOT quorate'}`;
  }
}
