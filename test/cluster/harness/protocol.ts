/**
 * The JSON-lines protocol between the test process and an agent (a member process running
 * inside a node's network namespace). One JSON object per line, both ways.
 *
 * Test → agent: a {@link Request} with a numeric `id`.
 * Agent → test: `hello` once when ready; a `result` per request; `event` for every group event
 * in the member's order; `stream` for values a `run` scenario emits; `closed` when the member's
 * stream ended. Every `result`, `event` and `closed` line carries the member's {@link WireState}
 * at the moment it was written, so the proxy's synchronous getters follow the event order.
 *
 * Bytes travel as base64, ring sequence numbers (bigint) as decimal strings, errors by `name`.
 * @module
 */
import { StringDecoder } from 'node:string_decoder';
import * as core from '@cpgkit/core';
import type { GroupEvent, GroupEventJson, GroupInfo, MemberId, TransportKind } from '@cpgkit/core';

/** A request from the test process. */
export type Request =
  | { readonly id: number; readonly op: 'join'; readonly name: string; readonly timeout?: number }
  | { readonly id: number; readonly op: 'leave' }
  | { readonly id: number; readonly op: 'send'; readonly data: string | readonly string[] }
  | { readonly id: number; readonly op: 'members' }
  | { readonly id: number; readonly op: 'groups' }
  | { readonly id: number; readonly op: 'state' }
  | { readonly id: number; readonly op: 'close' }
  | { readonly id: number; readonly op: 'exit' }
  | {
      readonly id: number;
      readonly op: 'run';
      /** Absolute path (or file URL) of the module to import inside the agent. */
      readonly module: string;
      /** The exported async function to call as `fn(args, ctx)`. */
      readonly export: string;
      readonly args?: unknown;
    }
  | { readonly id: number; readonly op: 'cancel'; readonly target: number };

/** The `op` of a request. */
export type RequestOp = Request['op'];

/** The member's state as the agent sees it when it writes a line. */
export interface WireState {
  readonly kind: TransportKind;
  readonly joined: boolean;
  readonly name: string | undefined;
  /** Our member id; absent before the first join. */
  readonly self: MemberId | undefined;
  readonly quorate: boolean;
  readonly maxMessageSize: number;
  /** The members as of the last membership event. */
  readonly members: readonly MemberId[];
}

/** An error, by name, with what the typed classes carry. */
export interface WireError {
  readonly name: string;
  readonly message: string;
  /** corosync's `cs_error_t` (`CpgError.csError`) */
  readonly csError?: number;
  readonly retryable?: boolean;
  /** `MessageTooLargeError` */
  readonly size?: number;
  readonly limit?: number;
  readonly stack?: string;
}

/** A `GroupEvent` on the wire (message bytes as base64 in `data`). */
export type WireEvent = GroupEventJson<{ readonly data: string }>;

/** `GroupInfo` on the wire (name bytes as base64). */
export interface WireGroupInfo {
  readonly group: string;
  readonly nameBytes: string;
  readonly members: readonly MemberId[];
}

/** A line from the agent. */
export type Reply =
  | { readonly type: 'hello'; readonly pid: number; readonly kind: TransportKind }
  | {
      readonly type: 'result';
      readonly id: number;
      readonly ok: true;
      readonly value?: unknown;
      readonly state?: WireState;
    }
  | {
      readonly type: 'result';
      readonly id: number;
      readonly ok: false;
      readonly error: WireError;
      readonly state?: WireState;
    }
  | { readonly type: 'event'; readonly event: WireEvent; readonly state: WireState }
  | { readonly type: 'stream'; readonly id: number; readonly value: unknown }
  | { readonly type: 'closed'; readonly error?: WireError; readonly state?: WireState };

/** Bytes to base64. */
export function toBase64(data: Uint8Array): string {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64');
}

/** base64 to bytes (a fresh `Uint8Array`, not a pooled Buffer). */
export function fromBase64(text: string): Uint8Array {
  const b = Buffer.from(text, 'base64');
  const out = new Uint8Array(b.byteLength);
  out.set(b);
  return out;
}

/** A `GroupEvent` to its wire form. */
export function encodeEvent(event: GroupEvent): WireEvent {
  return core.groupEventJson(event, (data) => ({ data: toBase64(data) }));
}

/** A wire event back to a `GroupEvent`. */
export function decodeEvent(event: WireEvent): GroupEvent {
  switch (event.type) {
    case 'message':
      return { type: 'message', sender: event.sender, data: fromBase64(event.data) };
    case 'membership':
      return { type: 'membership', members: event.members, joined: event.joined, left: event.left };
    case 'totem':
      return {
        type: 'totem',
        ringId: { nodeid: event.ringId.nodeid, seq: BigInt(event.ringId.seq) },
        nodes: event.nodes,
      };
    case 'quorum':
      return event.view === undefined
        ? { type: 'quorum', quorate: event.quorate }
        : {
            type: 'quorum',
            quorate: event.quorate,
            view: { ringSeq: BigInt(event.view.ringSeq), nodes: event.view.nodes },
          };
  }
}

/** `GroupInfo` to its wire form. */
export function encodeGroupInfo(info: GroupInfo): WireGroupInfo {
  return {
    group: info.group,
    nameBytes: toBase64(info.nameBytes),
    members: info.members.map(core.memberIdJson),
  };
}

/** A wire group back to `GroupInfo`. */
export function decodeGroupInfo(info: WireGroupInfo): GroupInfo {
  return { group: info.group, nameBytes: fromBase64(info.nameBytes), members: info.members };
}

/** Any thrown value to its wire form. */
export function encodeError(err: unknown): WireError {
  if (!(err instanceof Error)) return { name: 'Error', message: String(err) };
  const e = err as Error & {
    csError?: unknown;
    retryable?: unknown;
    size?: unknown;
    limit?: unknown;
  };
  return {
    name: e.name,
    message: e.message,
    ...(typeof e.csError === 'number' ? { csError: e.csError } : {}),
    ...(typeof e.retryable === 'boolean' ? { retryable: e.retryable } : {}),
    ...(typeof e.size === 'number' ? { size: e.size } : {}),
    ...(typeof e.limit === 'number' ? { limit: e.limit } : {}),
    ...(e.stack === undefined ? {} : { stack: e.stack }),
  };
}

type ErrorClass = new (...args: never[]) => Error;

function errorClass(name: string): ErrorClass | undefined {
  const candidate = (core as Record<string, unknown>)[name];
  if (typeof candidate !== 'function') return undefined;
  const proto = (candidate as { prototype?: unknown }).prototype;
  return proto instanceof Error ? (candidate as ErrorClass) : undefined;
}

/**
 * A wire error back to an instance of the same class when `@cpgkit/core` exports it (so
 * `instanceof NotJoinedError` works in tests), else a plain `Error` with the same `name`.
 * The agent's stack is kept as `remoteStack`.
 */
export function reviveError(wire: WireError): Error {
  const Class = errorClass(wire.name);
  let err: Error;
  if (Class === core.MessageTooLargeError) {
    err = new core.MessageTooLargeError(wire.size ?? 0, wire.limit ?? 0);
  } else if (Class !== undefined) {
    const Ctor = Class as unknown as new (message: string, options?: { csError?: number }) => Error;
    err = new Ctor(wire.message, wire.csError === undefined ? {} : { csError: wire.csError });
  } else {
    err = new Error(wire.message);
    err.name = wire.name;
  }
  err.message = wire.message;
  if (wire.stack !== undefined)
    Object.defineProperty(err, 'remoteStack', { value: wire.stack, enumerable: false });
  return err;
}

/** JSON with bigints as decimal strings and byte arrays as base64. */
export function stringifyLine(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v === 'bigint') return v.toString();
    if (v instanceof Uint8Array) return { base64: toBase64(v) };
    return v;
  });
}

/**
 * Splits a byte stream into lines and calls `onLine` for each (without the newline; blank
 * lines skipped). Returns the function to feed chunks to. UTF-8 split across chunks is fine.
 */
export function lineSplitter(onLine: (line: string) => void): (chunk: Buffer | string) => void {
  const decoder = new StringDecoder('utf8');
  let pending = '';
  return (chunk) => {
    pending += typeof chunk === 'string' ? chunk : decoder.write(chunk);
    let nl = pending.indexOf('\n');
    while (nl >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      if (line.trim() !== '') onLine(line);
      nl = pending.indexOf('\n');
    }
  };
}
