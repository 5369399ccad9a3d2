/**
 * This node's quorum, tracked through libquorum (votequorum underneath): its own handle, its own
 * fd, `quorum_trackstart(CS_TRACK_CURRENT | CS_TRACK_CHANGES)`, notifications dispatched when the
 * fd is readable. Corosync gives no order between quorum and CPG callbacks.
 * @module
 */
import { ConnectionLostError, CsError, errorFromCode, type CpgError } from '../errors.js';
import type { Native } from '../native/load.js';
import { CS_TRACK_CHANGES, CS_TRACK_CURRENT } from '../native/libquorum.js';
import { CS_DISPATCH_ALL } from '../native/libcpg.js';
import { readI32, readU32, readU64 } from '../native/layout.js';
import type { QuorumView } from '../types.js';

/** What the tracker reports. */
export interface QuorumHandlers {
  /**
   * A notification: the quorate flag (may repeat the previous value) and the view it is of.
   * votequorum sends one at every new ring (`votequorum_sync_activate`), and one on a change
   * of the flag within a ring.
   */
  notify(quorate: boolean, view: QuorumView): void;
  /** The quorum connection failed (daemon gone). */
  lost(error: CpgError): void;
}

/** One libquorum connection. */
export class QuorumConnection {
  /** The quorum as last reported. */
  quorate: boolean;
  /** The view of the last notification (`undefined` before the first). */
  view: QuorumView | undefined;
  /** The connection's fd (to watch for readability). */
  readonly fd: number;
  private depth = 0;
  private closed = false;
  private released = false;

  private constructor(
    private readonly native: Native,
    private readonly handle: bigint,
    private readonly registered: unknown,
    private readonly handlers: QuorumHandlers,
    fd: number,
    quorate: boolean,
  ) {
    this.fd = fd;
    this.quorate = quorate;
  }

  /** Connect to the quorum service and start tracking. Throws a typed `CpgError`. */
  static open(native: Native, handlers: QuorumHandlers): QuorumConnection {
    const q = native.quorum;
    const ref: { conn?: QuorumConnection } = {};
    const { callbacks, registered } = q.registerCallback((_h, quorate, ringSeq, count, list) => {
      const conn = ref.conn;
      if (conn === undefined || conn.closed) return;
      conn.quorate = quorate !== 0;
      try {
        conn.view = { ringSeq: BigInt(ringSeq as number | bigint), nodes: readNodes(count, list) };
        handlers.notify(conn.quorate, conn.view);
      } catch (err) {
        queueMicrotask(() => {
          throw err;
        });
      }
    });
    const out = Buffer.alloc(8);
    const type = Buffer.alloc(4);
    let rc = q.initialize(out, callbacks, type);
    if (rc !== CsError.OK) {
      native.koffi.unregister(registered as bigint);
      throw errorFromCode(rc, 'quorum_initialize');
    }
    const readNodes = (count: number, list: number): number[] => {
      const buf = Buffer.alloc(count * 4);
      if (count > 0 && list !== 0) native.libc.memcpyFrom(buf, list, count * 4);
      const nodes: number[] = [];
      for (let i = 0; i < count; i++) nodes.push(readU32(buf, i * 4));
      return nodes.sort((a, b) => a - b);
    };
    const handle = readU64(out);
    const fail = (code: number, call: string): never => {
      q.finalize(handle);
      native.koffi.unregister(registered as bigint);
      throw errorFromCode(code, call);
    };
    rc = q.getquorate(handle, out);
    if (rc !== CsError.OK) fail(rc, 'quorum_getquorate');
    const quorate = readI32(out) !== 0;
    rc = q.fd_get(handle, out);
    if (rc !== CsError.OK) fail(rc, 'quorum_fd_get');
    const fd = readI32(out);
    const conn = new QuorumConnection(native, handle, registered, handlers, fd, quorate);
    ref.conn = conn;
    rc = q.trackstart(handle, CS_TRACK_CURRENT | CS_TRACK_CHANGES);
    if (rc !== CsError.OK) fail(rc, 'quorum_trackstart');
    // the current view is queued before trackstart's reply: take it now, so that the first
    // quorum event (announced after our join) names its ring (a failure here shows at the
    // next dispatch, from the fd's watch)
    q.dispatch(handle, CS_DISPATCH_ALL);
    return conn;
  }

  /** Dispatch pending notifications. */
  dispatch(): void {
    if (this.closed) return;
    this.depth++;
    let rc: number;
    try {
      rc = this.native.quorum.dispatch(this.handle, CS_DISPATCH_ALL);
    } finally {
      this.depth--;
    }
    if (rc !== CsError.OK && rc !== CsError.TRY_AGAIN && !this.closed) {
      this.close();
      this.handlers.lost(
        new ConnectionLostError(
          `lost the connection to corosync's quorum service (quorum_dispatch: cs_error_t ${rc}); restart corosync and reconnect`,
          { csError: rc },
        ),
      );
    }
    if (this.closed && this.depth === 0) this.release();
  }

  /** Stop tracking and finalize (deferred until a running dispatch returns). Idempotent. */
  close(): void {
    this.closed = true;
    if (this.depth === 0) this.release();
  }

  private release(): void {
    if (this.released) return;
    this.released = true;
    this.native.quorum.finalize(this.handle);
    this.native.koffi.unregister(this.registered as bigint);
  }
}
