/**
 * `CorosyncDriver`: one libcpg handle (plus one libquorum handle) as a `GroupDriver`.
 *
 * Past 500 lines on purpose: every libcpg call and callback of one handle, with its error
 * mapping and its lifetime rules (koffi callbacks registered and unregistered, the handle
 * finalized exactly once), is kept in one place; FFI declarations are in native/.
 *
 * Dispatch: in `auto` mode the event loop calls `cpg_dispatch(CS_DISPATCH_ALL)` when the fd is
 * readable (never through koffi's `.async`: cpg_dispatch puts 1 MiB on the C stack). After every
 * dispatch, and on a short backoff while a send waits, `sink.writable()` tells the layer above
 * to retry (corosync has no "writable" notification: CS_ERR_TRY_AGAIN just goes away).
 *
 * Hot paths: a message body is copied with one `memcpy` into a per-connection scratch buffer and
 * handed to `sink.message` as a view (the `DriverSink` contract: valid during the call only);
 * `mcast` copies its parts into a native staging buffer and calls `cpg_mcast_joined` with one
 * fixed iovec (see native/send-buffer.ts).
 *
 * `close()` from inside a callback is deferred until `cpg_dispatch` returns: finalizing the
 * handle (and unregistering the koffi callbacks) under a running dispatch would be a
 * use-after-free in libcpg.
 * @module
 */
import type { DriverSink, GroupDriver, GroupListing } from '../driver.js';
import {
  AlreadyJoinedError,
  ConnectionLostError,
  CsError,
  GroupClosedError,
  NotJoinedError,
  errorFromCode,
  type CpgError,
} from '../errors.js';
import type { MemberId, QuorumView } from '../types.js';
import type { Native } from '../native/load.js';
import { CPG_ITERATION_ALL, CPG_TYPE_AGREED, CS_DISPATCH_ALL } from '../native/libcpg.js';
import { POLLIN } from '../native/libc.js';
import { createSendBuffer, type SendBuffer } from '../native/send-buffer.js';
import { watchFd, type FdWatch } from '../native/fd-watch.js';
import {
  CPG_ADDRESS_SIZE,
  CPG_ITERATION_DESCRIPTION_SIZE,
  CPG_MEMBERSHIP_GET_MAX,
  CPG_NAME_SIZE,
  decodeChanges,
  decodeCpgName,
  decodeMembers,
  encodeCpgName,
  readI32,
  readU32,
  readU64,
  writeI32,
} from '../native/layout.js';
import { QuorumConnection } from './quorum.js';

/** How a driver is opened. */
export interface CorosyncDriverOptions {
  /** `auto`: dispatch on fd readable; `manual`: only in `dispatch()`. */
  readonly dispatch: 'auto' | 'manual';
  /** Track quorum through libquorum. */
  readonly trackQuorum: boolean;
  /** The first retry delay after CS_ERR_TRY_AGAIN, doubled up to `maxRetryDelayMs`. */
  readonly retryDelayMs: number;
  /** The longest retry delay. */
  readonly maxRetryDelayMs: number;
  /**
   * In `auto` mode, how many message bytes `mcast` sends before it returns `false` once to
   * give the event loop a turn to dispatch (`writable()` follows right after, on
   * `setImmediate`). 0 disables it. Only bodies count: small messages are paced by
   * corosync's own CS_ERR_TRY_AGAIN, the window is for large ones (see transport.ts).
   */
  readonly sendWindowBytes: number;
}

const sendBuffers = new WeakMap<Native, SendBuffer>();

/** The `GroupDriver` of the corosync transport. Open with `CorosyncDriver.open`. */
export class CorosyncDriver implements GroupDriver {
  readonly local: MemberId;
  readonly maxMessageSize: number;

  private closed = false;
  private released = false;
  private lostReported = false;
  private depth = 0;
  private callbacksFired = 0;
  private joinedName: Buffer | undefined;
  private quorumAnnounced = false;
  private lastQuorate: boolean | undefined;
  private lastView: QuorumView | undefined;
  private sendWaiting = false;
  /** Message bytes sent since the last dispatch: roughly what our own deliveries will occupy. */
  private unread = 0;
  private yieldScheduled = false;
  private readonly window: number;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private retryDelay: number;
  /** Where message bodies are copied; `view` is the last view handed out (reused while the size repeats). */
  private scratch = new ArrayBuffer(64 * 1024);
  private view = new Uint8Array(this.scratch, 0, 0);
  private lastSender: MemberId = { nodeid: -1, pid: -1 };
  private watches: FdWatch[] = [];
  private quorum: QuorumConnection | undefined;
  private registered: unknown[] = [];
  private readonly sendBuffer: SendBuffer;
  private handle = 0n;
  private fd = -1;

  private constructor(
    private readonly native: Native,
    private readonly sink: DriverSink,
    private readonly options: CorosyncDriverOptions,
    init: (self: CorosyncDriver) => { local: MemberId; maxMessageSize: number },
  ) {
    let sb = sendBuffers.get(native);
    if (!sb) {
      sb = createSendBuffer(native.koffi);
      sendBuffers.set(native, sb);
    }
    this.sendBuffer = sb;
    this.retryDelay = options.retryDelayMs;
    this.window = options.dispatch === 'auto' ? options.sendWindowBytes : 0;
    const { local, maxMessageSize } = init(this);
    this.local = local;
    this.maxMessageSize = maxMessageSize;
  }

  /**
   * Open a handle: `cpg_model_initialize` (model V1, deliver + confchg + totem confchg, initial
   * totem conf), fd, local node id, max atomic message size, quorum tracking, fd watching.
   * Throws a typed `CpgError` (no daemon: `CorosyncNotRunningError`).
   */
  static open(native: Native, sink: DriverSink, options: CorosyncDriverOptions): CorosyncDriver {
    return new CorosyncDriver(native, sink, options, (self) => self.init());
  }

  private init(): { local: MemberId; maxMessageSize: number } {
    const cpg = this.native.cpg;
    const { model, registered } = cpg.registerCallbacks(
      this.onDeliver,
      this.onConfchg,
      this.onTotem,
    );
    this.registered = registered;
    const out = Buffer.alloc(8);
    const rc = cpg.model_initialize(out, 1, model, null);
    if (rc !== CsError.OK) {
      this.unregister();
      this.closed = this.released = true;
      throw errorFromCode(rc, 'cpg_model_initialize');
    }
    this.handle = readU64(out);
    try {
      this.check(cpg.fd_get(this.handle, out), 'cpg_fd_get');
      this.fd = readI32(out);
      this.check(cpg.local_get(this.handle, out), 'cpg_local_get');
      const nodeid = readU32(out, 0);
      this.check(cpg.max_atomic_msgsize_get(this.handle, out), 'cpg_max_atomic_msgsize_get');
      const maxMessageSize = readU32(out, 0);
      if (this.options.trackQuorum) {
        this.quorum = QuorumConnection.open(this.native, {
          notify: (quorate, view) => this.onQuorum(quorate, view),
          lost: (err) => this.lose(err),
        });
      }
      if (this.options.dispatch === 'auto') this.startWatching();
      return { local: { nodeid, pid: process.pid }, maxMessageSize };
    } catch (err) {
      this.closed = true;
      this.release();
      throw err;
    }
  }

  private check(rc: number, call: string): void {
    if (rc !== CsError.OK) throw errorFromCode(rc, call);
  }

  private startWatching(): void {
    const koffi = this.native.koffi;
    const onError = (err: Error) =>
      this.lose(
        new ConnectionLostError(`lost the connection to corosync: ${err.message}`, { cause: err }),
      );
    this.watches.push(
      watchFd(koffi, this.fd, { readable: () => this.dispatchCpg(), error: onError }),
    );
    const q = this.quorum;
    if (q)
      this.watches.push(
        watchFd(koffi, q.fd, { readable: () => this.dispatchQuorum(), error: onError }),
      );
  }

  // --- callbacks (called by libcpg inside cpg_dispatch) -------------------------------------

  private readonly onDeliver = (
    _h: unknown,
    _g: number,
    nodeid: number,
    pid: number,
    msg: number,
    len: number,
  ) => {
    if (this.closed) return;
    this.callbacksFired++;
    try {
      let view = this.view;
      if (view.length !== len) {
        if (len > this.scratch.byteLength) {
          let size = this.scratch.byteLength;
          while (size < len) size *= 2;
          this.scratch = new ArrayBuffer(size);
        }
        view = this.view = new Uint8Array(this.scratch, 0, len);
      }
      if (len > 0) this.native.libc.memcpyFrom(view, msg, len);
      let sender = this.lastSender;
      if (sender.nodeid !== nodeid || sender.pid !== pid) {
        sender = this.lastSender = { nodeid, pid };
      }
      this.sink.message(sender, view);
    } catch (err) {
      rethrowLater(err);
    }
  };

  private readonly onConfchg = (
    _h: unknown,
    _g: number,
    m: number,
    nm: number,
    l: number,
    nl: number,
    j: number,
    nj: number,
  ) => {
    if (this.closed) return;
    this.callbacksFired++;
    try {
      const members = decodeMembers(this.read(m, nm * CPG_ADDRESS_SIZE), nm);
      const left = decodeChanges(this.read(l, nl * CPG_ADDRESS_SIZE), nl);
      const joined = decodeChanges(this.read(j, nj * CPG_ADDRESS_SIZE), nj);
      this.sink.membership(members, joined, left);
    } catch (err) {
      rethrowLater(err);
    }
  };

  private readonly onTotem = (
    _h: unknown,
    ring: { nodeid: number; seq: number | bigint },
    n: number,
    list: number,
  ) => {
    if (this.closed) return;
    this.callbacksFired++;
    try {
      const buf = this.read(list, n * 4);
      const nodes: number[] = [];
      for (let i = 0; i < n; i++) nodes.push(readU32(buf, i * 4));
      this.sink.totem({ nodeid: ring.nodeid, seq: BigInt(ring.seq) }, nodes);
      // the initial totem event follows our join's confchg: announce the quorum after it
      if (this.joinedName !== undefined && !this.quorumAnnounced && this.quorum && !this.closed) {
        this.quorumAnnounced = true;
        this.lastQuorate = this.quorum.quorate;
        this.lastView = this.quorum.view;
        this.sink.quorum(this.lastQuorate, this.lastView);
      }
    } catch (err) {
      rethrowLater(err);
    }
  };

  /** A notification: passed on when the flag changed or the view is of another ring. */
  private onQuorum(quorate: boolean, view: QuorumView): void {
    this.callbacksFired++;
    if (this.closed || !this.quorumAnnounced) return;
    if (quorate === this.lastQuorate && view.ringSeq === this.lastView?.ringSeq) return;
    this.lastQuorate = quorate;
    this.lastView = view;
    this.sink.quorum(quorate, view);
  }

  /** Copy `len` bytes at address `addr` (from a callback) into a fresh Buffer. */
  private read(addr: number, len: number): Buffer {
    const buf = Buffer.alloc(len);
    if (len > 0 && addr !== 0) this.native.libc.memcpyFrom(buf, addr, len);
    return buf;
  }

  // --- dispatch ------------------------------------------------------------------------------

  private dispatchCpg(): void {
    if (this.closed) return;
    this.depth++;
    let rc: number;
    try {
      rc = this.native.cpg.dispatch(this.handle, CS_DISPATCH_ALL);
    } finally {
      this.depth--;
    }
    this.unread = 0;
    if (rc !== CsError.OK && rc !== CsError.TRY_AGAIN) {
      this.lose(
        new ConnectionLostError(
          `lost the connection to corosync (cpg_dispatch: cs_error_t ${rc}): the daemon stopped or dropped us; restart corosync and reconnect`,
          { csError: rc },
        ),
      );
    }
    this.afterDispatch();
  }

  private dispatchQuorum(): void {
    this.quorum?.dispatch();
    this.afterDispatch();
  }

  private afterDispatch(): void {
    if (this.closed) {
      if (this.depth === 0) this.release();
      return;
    }
    if (this.sendWaiting) this.fireWritable();
  }

  private fireWritable(): void {
    this.sendWaiting = false;
    if (this.retryTimer !== undefined) {
      clearTimeout(this.retryTimer);
      this.retryTimer = undefined;
    }
    try {
      this.sink.writable();
    } catch (err) {
      // a bug above us, not a lost connection: surface it, keep the connection
      rethrowLater(err);
    }
  }

  dispatch(timeoutMs: number): boolean {
    if (this.closed) throw new GroupClosedError('the corosync connection is closed');
    const q = this.quorum;
    const fds = Buffer.alloc(16);
    writeI32(fds, 0, this.fd);
    fds.writeInt16LE(POLLIN, 4);
    if (q) {
      writeI32(fds, 8, q.fd);
      fds.writeInt16LE(POLLIN, 12);
    }
    const n = this.native.libc.poll(fds, q ? 2 : 1, Math.max(0, Math.floor(timeoutMs)));
    if (n <= 0) return false;
    const before = this.callbacksFired;
    if (fds.readInt16LE(6) !== 0) this.dispatchCpg();
    if (q && !this.closed && fds.readInt16LE(14) !== 0) this.dispatchQuorum();
    return this.callbacksFired !== before;
  }

  // --- the group -----------------------------------------------------------------------------

  join(name: Uint8Array): void {
    this.assertOpen();
    if (this.joinedName !== undefined) {
      throw new AlreadyJoinedError(
        'this connection already joined a group: one group per connection',
      );
    }
    const encoded = encodeCpgName(name);
    const rc = this.native.cpg.join(this.handle, encoded);
    if (rc !== CsError.OK) throw errorFromCode(rc, 'cpg_join');
    this.joinedName = encoded;
  }

  leave(): void {
    this.assertOpen();
    const name = this.joinedName;
    if (name === undefined) throw new NotJoinedError('not joined to a group');
    const rc = this.native.cpg.leave(this.handle, name);
    if (rc !== CsError.OK) throw errorFromCode(rc, 'cpg_leave');
    this.joinedName = undefined;
  }

  mcast(parts: readonly Uint8Array[]): boolean {
    this.assertOpen();
    if (this.window > 0 && this.unread >= this.window) {
      // Let the event loop read our deliveries before sending more: if they pile up beyond
      // the IPC event ring, corosync queues them and spins re-sending, which slows the whole
      // node down. Only a turn of the loop, not a wait: the pipe stays full.
      this.yieldForDispatch();
      return false;
    }
    const sb = this.sendBuffer;
    const size = sb.load(parts);
    const rc = this.native.cpg.mcast_joined(this.handle, CPG_TYPE_AGREED, sb.iov, 1);
    if (rc === CsError.OK) {
      this.unread += size;
      this.retryDelay = this.options.retryDelayMs;
      return true;
    }
    if (rc === CsError.TRY_AGAIN) {
      this.waitWritable();
      return false;
    }
    if (rc === CsError.LIBRARY) {
      const err = new ConnectionLostError(
        'lost the connection to corosync (cpg_mcast_joined: CS_ERR_LIBRARY): the daemon stopped or dropped us; restart corosync and reconnect',
      );
      queueMicrotask(() => this.lose(err));
      throw err;
    }
    throw errorFromCode(rc, 'cpg_mcast_joined', { size, limit: this.maxMessageSize });
  }

  private yieldForDispatch(): void {
    this.sendWaiting = true;
    if (this.yieldScheduled) return;
    this.yieldScheduled = true;
    // setImmediate runs after the poll phase: a readable fd is dispatched first
    setImmediate(() => {
      this.yieldScheduled = false;
      this.unread = 0;
      if (this.closed || !this.sendWaiting) return;
      this.fireWritable();
    });
  }

  private waitWritable(): void {
    this.sendWaiting = true;
    if (this.retryTimer !== undefined) return;
    const delay = this.retryDelay;
    this.retryDelay = Math.min(this.retryDelay * 2, this.options.maxRetryDelayMs);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (this.closed || !this.sendWaiting) return;
      // nothing was dispatched meanwhile (e.g. not joined yet: nothing comes back): let sends go
      this.unread = 0;
      this.fireWritable();
    }, delay);
  }

  members(): MemberId[] {
    this.assertOpen();
    const name = this.joinedName;
    if (name === undefined) throw new NotJoinedError('not joined to a group');
    // cpg_membership_get ignores the capacity we pass and may write up to 384 entries
    const list = Buffer.alloc(CPG_MEMBERSHIP_GET_MAX * CPG_ADDRESS_SIZE);
    const count = Buffer.alloc(4);
    writeI32(count, 0, CPG_MEMBERSHIP_GET_MAX);
    const rc = this.native.cpg.membership_get(this.handle, name, list, count);
    if (rc !== CsError.OK) throw errorFromCode(rc, 'cpg_membership_get');
    return decodeMembers(list, Math.min(readI32(count), CPG_MEMBERSHIP_GET_MAX));
  }

  groups(): GroupListing[] {
    this.assertOpen();
    const cpg = this.native.cpg;
    const out = Buffer.alloc(8);
    const rc = cpg.iteration_initialize(this.handle, CPG_ITERATION_ALL, null, out);
    if (rc !== CsError.OK) throw errorFromCode(rc, 'cpg_iteration_initialize');
    const iter = readU64(out);
    const byName = new Map<string, { group: Uint8Array; members: MemberId[] }>();
    const desc = Buffer.alloc(CPG_ITERATION_DESCRIPTION_SIZE);
    try {
      for (;;) {
        const r = cpg.iteration_next(iter, desc);
        if (r === CsError.NO_SECTIONS) break;
        if (r !== CsError.OK) throw errorFromCode(r, 'cpg_iteration_next');
        const group = decodeCpgName(desc, 0);
        const key = Buffer.from(group).toString('latin1');
        let entry = byName.get(key);
        if (!entry) {
          entry = { group, members: [] };
          byName.set(key, entry);
        }
        entry.members.push({
          nodeid: readU32(desc, CPG_NAME_SIZE),
          pid: readU32(desc, CPG_NAME_SIZE + 4),
        });
      }
    } finally {
      cpg.iteration_finalize(iter);
    }
    return [...byName.values()];
  }

  quorate(): boolean | undefined {
    return this.quorum?.quorate;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stopActivity();
    if (this.depth === 0) this.release();
  }

  private assertOpen(): void {
    if (this.closed) {
      throw this.lostReported
        ? new ConnectionLostError()
        : new GroupClosedError('the corosync connection is closed');
    }
  }

  /** The connection died: report once, then behave as closed. */
  private lose(err: CpgError): void {
    if (this.closed) return;
    this.closed = true;
    this.lostReported = true;
    this.stopActivity();
    if (this.depth === 0) this.release();
    try {
      this.sink.lost(err);
    } catch (e) {
      rethrowLater(e);
    }
  }

  private stopActivity(): void {
    for (const w of this.watches) w.close();
    this.watches = [];
    if (this.retryTimer !== undefined) {
      clearTimeout(this.retryTimer);
      this.retryTimer = undefined;
    }
    this.sendWaiting = false;
  }

  private release(): void {
    if (this.released) return;
    this.released = true;
    if (this.handle !== 0n) this.native.cpg.finalize(this.handle);
    this.quorum?.close();
    this.unregister();
  }

  private unregister(): void {
    for (const r of this.registered) this.native.koffi.unregister(r as bigint);
    this.registered = [];
  }
}

function rethrowLater(err: unknown): void {
  queueMicrotask(() => {
    throw err;
  });
}
