/**
 * koffi declarations for libquorum.so.5 (corosync's quorum service, backed by votequorum).
 * Only called from `load.ts`.
 * @module
 */
import type * as Koffi from 'koffi';

/** `CS_TRACK_CURRENT`: one notification with the current state right away. */
export const CS_TRACK_CURRENT = 0x01;
/** `CS_TRACK_CHANGES`: a notification on every change. */
export const CS_TRACK_CHANGES = 0x02;
/** `QUORUM_FREE`: no quorum provider is configured (the node is always quorate). */
export const QUORUM_FREE = 0;

/** `quorum_notification_fn_t`, as cpgkit declares it (the view list as an address). */
export type QuorumNotifyFn = (
  handle: unknown,
  quorate: number,
  ringSeq: unknown,
  count: number,
  list: number,
) => void;

/** The libquorum functions cpgkit calls. Every one returns a `cs_error_t`. */
export interface QuorumLib {
  /** Register the notification callback and build the `quorum_callbacks_t`. */
  registerCallback(notify: QuorumNotifyFn): { callbacks: object; registered: unknown };
  initialize(handleOut: Buffer, callbacks: object, typeOut: Buffer): number;
  finalize(handle: bigint): number;
  fd_get(handle: bigint, fdOut: Buffer): number;
  dispatch(handle: bigint, flags: number): number;
  getquorate(handle: bigint, quorateOut: Buffer): number;
  trackstart(handle: bigint, flags: number): number;
}

/** Declare libquorum's functions on an opened library. */
export function bindQuorum(koffi: typeof Koffi, lib: Koffi.LibraryHandle): QuorumLib {
  const notifyProto = koffi.proto(
    'void cpgkit_quorum_notification_fn(uint64_t handle, uint32_t quorate, uint64_t ring_seq, uint32_t count, uintptr_t list)',
  );
  const callbacksType = koffi.struct('cpgkit_quorum_callbacks_t', {
    quorum_notify_fn: koffi.pointer(notifyProto),
  });
  const f = <T>(decl: string): T => lib.func(decl) as unknown as T;
  return {
    registerCallback(notify) {
      const registered = koffi.register(notify, koffi.pointer(notifyProto));
      return { callbacks: { quorum_notify_fn: registered }, registered };
    },
    initialize: lib.func('quorum_initialize', 'int', [
      'void *',
      koffi.pointer(callbacksType),
      'void *',
    ]),
    finalize: f('int quorum_finalize(uint64_t handle)'),
    fd_get: f('int quorum_fd_get(uint64_t handle, void *fd)'),
    dispatch: f('int quorum_dispatch(uint64_t handle, int flags)'),
    getquorate: f('int quorum_getquorate(uint64_t handle, void *quorate)'),
    trackstart: f('int quorum_trackstart(uint64_t handle, unsigned int flags)'),
  };
}
