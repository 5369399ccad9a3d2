/**
 * How the group commands print members and events: one JSON object a line (`--json`), or a
 * short human line.
 * @module
 */
import {
  groupEventJson,
  memberIdJson,
  type GroupEvent,
  type GroupEventJson,
  type MemberChange,
  type MemberId,
} from '@cpgkit/core';

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
export const memberJson = memberIdJson;

/**
 * An event as one JSON object: messages carry `data` (UTF-8 text) or, when the bytes are not
 * valid UTF-8, `base64` instead; the ring sequence number is a decimal string.
 */
export function eventJson(
  event: GroupEvent,
): GroupEventJson<{ data: string } | { base64: string }> {
  return groupEventJson(event, (data) => {
    const text = utf8OrUndefined(data);
    return text === undefined ? { base64: Buffer.from(data).toString('base64') } : { data: text };
  });
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
