/**
 * `corosync()`: the transport that talks to a real corosync daemon through libcpg and
 * libquorum (loaded lazily with koffi on the first `connect`).
 * @module
 */
import type { ConnectOptions, DriverSink, GroupDriver, Transport } from '../driver.js';
import { realClock } from '../clock.js';
import { loadNative, type NativeLibraryPaths } from '../native/load.js';
import { CorosyncDriver } from './driver.js';
import { TryAgainError } from '../errors.js';

const CONNECT_RETRIES = 20;
const CONNECT_RETRY_MS = 25;

/** Options for `corosync()`. */
export interface CorosyncOptions {
  /** Where libcpg and libquorum live, if not under their sonames on the loader path. */
  readonly libraries?: NativeLibraryPaths;
  /**
   * Track this node's quorum through libquorum (`quorum` events, `quorate`).
   * @defaultValue `true`
   */
  readonly trackQuorum?: boolean;
  /**
   * The first delay before retrying a send that corosync refused with CS_ERR_TRY_AGAIN when no
   * event arrives meanwhile (any dispatched event retries at once). Doubles up to `maxRetryDelayMs`.
   * @defaultValue `1`
   */
  readonly retryDelayMs?: number;
  /** @defaultValue `10` */
  readonly maxRetryDelayMs?: number;
  /**
   * With automatic dispatch, how many message bytes a connection sends without a dispatch
   * before it gives the event loop a turn to read its own deliveries. Large messages fill
   * corosync's 1 MiB IPC event ring towards us within a few sends; when it overflows the
   * daemon queues them and retries in a busy loop, which costs the whole node. Small
   * messages are paced well enough by corosync's CS_ERR_TRY_AGAIN: the old default, which
   * also stopped them, slowed the unbatched 64 B flood (by how much varied from run to run:
   * packages/core/README.md).
   * 0 disables it.
   * @defaultValue `1048576`
   */
  readonly sendWindowBytes?: number;
}

/**
 * The corosync transport. Each `connect` opens one CPG handle (a group member-to-be).
 * Importing cpgkit loads nothing native; the first `connect` loads koffi and libcpg and rejects
 * with `LibraryNotFoundError` when corosync is not installed, `CorosyncNotRunningError` when the
 * daemon is not running, `AccessDeniedError` when it refuses us.
 *
 * @example
 * ```ts
 * import { openGroup, corosync } from '@cpgkit/core';
 * await using group = await openGroup('orders', { transport: corosync() });
 * ```
 */
export function corosync(options: CorosyncOptions = {}): Transport {
  const driverOptions = {
    trackQuorum: options.trackQuorum ?? true,
    retryDelayMs: Math.max(0, options.retryDelayMs ?? 1),
    maxRetryDelayMs: Math.max(1, options.maxRetryDelayMs ?? 10),
    sendWindowBytes: Math.max(0, options.sendWindowBytes ?? 1024 * 1024),
  };
  return {
    kind: 'corosync',
    clock: realClock,
    async connect(sink: DriverSink, connectOptions: ConnectOptions = {}): Promise<GroupDriver> {
      const native = await loadNative(options.libraries);
      const opts = { ...driverOptions, dispatch: connectOptions.dispatch ?? 'auto' } as const;
      // corosync refuses connections with CS_ERR_TRY_AGAIN while it is not ready (starting,
      // or a connection setup timed out under load): retry for a while before giving up
      for (let attempt = 0; ; attempt++) {
        try {
          return CorosyncDriver.open(native, sink, opts);
        } catch (err) {
          if (!(err instanceof TryAgainError) || attempt >= CONNECT_RETRIES) throw err;
        }
        await new Promise((resolve) => setTimeout(resolve, CONNECT_RETRY_MS * (attempt + 1)));
      }
    },
  };
}
