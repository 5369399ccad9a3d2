/**
 * The contract between core and everything above it. See ARCHITECTURE.md at the repository root.
 * @module
 */
import type {
  Clock,
  GroupEvent,
  GroupEventOf,
  GroupEventType,
  MemberId,
  TransportKind,
  WaitOptions,
} from './types.js';

/** A group with its members, as `groups()` lists it. */
export interface GroupInfo {
  /** The group name, decoded as UTF-8 (`nameBytes` has the exact bytes). */
  readonly group: string;
  readonly nameBytes: Uint8Array;
  readonly members: readonly MemberId[];
}

/** Options for `send`. */
export interface SendOptions {
  /** Withdraw the send if it is still queued (not yet accepted by the engine). */
  readonly signal?: AbortSignal;
}

/**
 * A group member: one ordered stream of events (messages in agreed order, our own included;
 * membership changes; totem changes; quorum) and `send`.
 *
 * Implemented by `Group` over the corosync transport and over the in-memory cluster. Every
 * layer above core is written against this interface only.
 *
 * @example
 * ```ts
 * await using group = await openGroup('orders');
 * group.on('message', (m) => console.log(m.sender, new TextDecoder().decode(m.data)));
 * await group.send(new TextEncoder().encode('hello'));
 * ```
 */
export interface GroupTransport extends AsyncIterable<GroupEvent>, AsyncDisposable {
  /** Which engine this member runs on. */
  readonly kind: TransportKind;
  /** The clock to use for timeouts with this member (virtual on the in-memory cluster). */
  readonly clock: Clock;
  /** The joined group's name, or `undefined` when not joined. */
  readonly name: string | undefined;
  /** Whether we are joined (and not evicted or closed). */
  readonly joined: boolean;
  /** Our member id. Throws `NotJoinedError` before the first `join`. */
  readonly self: MemberId;
  /** This node's quorum as last reported (false until known). */
  readonly quorate: boolean;
  /** The largest `data` one `send` takes (bigger messages are chunked up to this). */
  readonly maxMessageSize: number;

  /** Connect (if needed) and join `name` (1..128 bytes of UTF-8). Rejoin after `leave` works. */
  join(name: string, options?: WaitOptions): Promise<void>;
  /** Leave the group; the member stays usable for a later `join`. */
  leave(): Promise<void>;
  /**
   * Send one message, or several that every member receives as separate consecutive
   * messages. Resolves when the engine accepted them (not when delivered). Rejects with
   * `MessageTooLargeError`, `QueueFullError`, `NotJoinedError`, `GroupClosedError`.
   */
  send(data: Uint8Array | readonly Uint8Array[], options?: SendOptions): Promise<void>;
  /** The group's members as of the last delivered membership event. */
  members(): readonly MemberId[];
  /** Every group in the cluster with its members. */
  groups(): Promise<GroupInfo[]>;
  /** Handle every event of `type`; returns the unsubscribe function. Handlers run in order. */
  on<T extends GroupEventType>(type: T, handler: (event: GroupEventOf<T>) => void): () => void;
  /**
   * A new iterator over events from now on. Ends when the group closes: normally after
   * `close()`, by throwing the error `closed()` resolves with when the connection was lost.
   */
  events(options?: { signal?: AbortSignal }): AsyncIterableIterator<GroupEvent>;
  /** Leave (if joined) and disconnect. Idempotent. */
  close(): Promise<void>;
  /** Resolves (never rejects) when closed: with the error that closed it, if any. */
  closed(): Promise<void | Error>;
}
