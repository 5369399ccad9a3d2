/**
 * koffi declarations for libcpg.so.4 (corosync 3). Only called from `load.ts`, after koffi was
 * imported lazily. Pointers the library hands to our callbacks are declared `uintptr_t` (a JS
 * number, no BigInt per call); bodies are then copied with `memcpy` (see `libc.ts`).
 *
 * Struct arguments are passed as Buffers laid out by `layout.ts` (koffi passes a Buffer's memory
 * directly): `cpg_name`, `cpg_address[]`, `cpg_iteration_description_t`, `struct iovec[]`.
 * @module
 */
import type * as Koffi from 'koffi';

/** `cpg_guarantee_t` CPG_TYPE_AGREED (FIFO is the same; UNORDERED and SAFE are not implemented). */
export const CPG_TYPE_AGREED = 2;
/** `cpg_model_t` CPG_MODEL_V1. */
export const CPG_MODEL_V1 = 1;
/** Ask for one totem confchg right after join (the daemon sends it after our join confchg). */
export const CPG_MODEL_V1_DELIVER_INITIAL_TOTEM_CONF = 0x01;
/** `cpg_iteration_type_t` CPG_ITERATION_ALL: every group with its members. */
export const CPG_ITERATION_ALL = 3;
/** `cs_dispatch_flags_t` CS_DISPATCH_ALL: everything pending, without waiting. */
export const CS_DISPATCH_ALL = 2;

/** `cpg_deliver_fn_t`, as cpgkit declares it (pointers as numbers). */
export type DeliverFn = (
  handle: unknown,
  group: number,
  nodeid: number,
  pid: number,
  msg: number,
  len: number,
) => void;
/** `cpg_confchg_fn_t`, as cpgkit declares it. */
export type ConfchgFn = (
  handle: unknown,
  group: number,
  members: number,
  memberCount: number,
  left: number,
  leftCount: number,
  joined: number,
  joinedCount: number,
) => void;
/** `cpg_totem_confchg_fn_t`: the ring id arrives by value. */
export type TotemConfchgFn = (
  handle: unknown,
  ringId: { nodeid: number; seq: number | bigint },
  count: number,
  members: number,
) => void;

/** A registered callback (the value `koffi.register` returns). */
export type Registered = unknown;

/** The libcpg functions cpgkit calls. Every one returns a `cs_error_t`. */
export interface CpgLib {
  /** Register the three callbacks and build the `cpg_model_v1_data_t` for `model_initialize`. */
  registerCallbacks(
    deliver: DeliverFn,
    confchg: ConfchgFn,
    totem: TotemConfchgFn,
  ): { model: object; registered: Registered[] };
  model_initialize(handleOut: Buffer, model: number, modelData: object, context: null): number;
  finalize(handle: bigint): number;
  fd_get(handle: bigint, fdOut: Buffer): number;
  max_atomic_msgsize_get(handle: bigint, sizeOut: Buffer): number;
  local_get(handle: bigint, nodeidOut: Buffer): number;
  dispatch(handle: bigint, flags: number): number;
  join(handle: bigint, name: Buffer): number;
  leave(handle: bigint, name: Buffer): number;
  /** `iov` is native memory (an address from `koffi.alloc`), so no conversion happens per call. */
  mcast_joined(handle: bigint, guarantee: number, iov: unknown, iovCount: number): number;
  membership_get(handle: bigint, name: Buffer, members: Buffer, countInOut: Buffer): number;
  iteration_initialize(handle: bigint, type: number, group: Buffer | null, iterOut: Buffer): number;
  iteration_next(iter: bigint, description: Buffer): number;
  iteration_finalize(iter: bigint): number;
}

/** Declare libcpg's functions on an opened library. */
export function bindCpg(koffi: typeof Koffi, lib: Koffi.LibraryHandle): CpgLib {
  const ringId = koffi.struct('cpgkit_cpg_ring_id', { nodeid: 'uint32_t', seq: 'uint64_t' });
  // On 64-bit Linux the handle (uint64_t) is declared uintptr_t, the same register: a number
  // instead of a BigInt per message (we do not use it: one callback set per handle). On 32-bit
  // targets a uint64_t takes two slots, so it keeps its real type there.
  const handleType = koffi.sizeof('uintptr_t') === 8 ? 'uintptr_t' : 'uint64_t';
  const deliverProto = koffi.proto(
    `void cpgkit_cpg_deliver_fn(${handleType} handle, uintptr_t group, uint32_t nodeid, uint32_t pid, uintptr_t msg, size_t len)`,
  );
  const confchgProto = koffi.proto(
    'void cpgkit_cpg_confchg_fn(uint64_t handle, uintptr_t group, uintptr_t members, size_t nmembers, uintptr_t left, size_t nleft, uintptr_t joined, size_t njoined)',
  );
  const totemProto = koffi.proto('cpgkit_cpg_totem_confchg_fn', 'void', [
    'uint64_t',
    ringId,
    'uint32_t',
    'uintptr_t',
  ]);
  const modelV1 = koffi.struct('cpgkit_cpg_model_v1_data_t', {
    model: 'int',
    cpg_deliver_fn: koffi.pointer(deliverProto),
    cpg_confchg_fn: koffi.pointer(confchgProto),
    cpg_totem_confchg_fn: koffi.pointer(totemProto),
    flags: 'unsigned int',
  });
  const f = <T>(decl: string): T => lib.func(decl) as unknown as T;
  return {
    registerCallbacks(deliver, confchg, totem) {
      const registered: Registered[] = [];
      try {
        const d = koffi.register(deliver, koffi.pointer(deliverProto));
        registered.push(d);
        const c = koffi.register(confchg, koffi.pointer(confchgProto));
        registered.push(c);
        const t = koffi.register(totem, koffi.pointer(totemProto));
        registered.push(t);
        const model = {
          model: CPG_MODEL_V1,
          cpg_deliver_fn: d,
          cpg_confchg_fn: c,
          cpg_totem_confchg_fn: t,
          flags: CPG_MODEL_V1_DELIVER_INITIAL_TOTEM_CONF,
        };
        return { model, registered };
      } catch (err) {
        for (const r of registered) koffi.unregister(r as bigint);
        throw err;
      }
    },
    model_initialize: lib.func('cpg_model_initialize', 'int', [
      'void *',
      'int',
      koffi.pointer(modelV1),
      'void *',
    ]),
    finalize: f('int cpg_finalize(uint64_t handle)'),
    fd_get: f('int cpg_fd_get(uint64_t handle, void *fd)'),
    max_atomic_msgsize_get: f('int cpg_max_atomic_msgsize_get(uint64_t handle, void *size)'),
    local_get: f('int cpg_local_get(uint64_t handle, void *nodeid)'),
    dispatch: f('int cpg_dispatch(uint64_t handle, int flags)'),
    join: f('int cpg_join(uint64_t handle, const void *group)'),
    leave: f('int cpg_leave(uint64_t handle, const void *group)'),
    mcast_joined: f(
      'int cpg_mcast_joined(uint64_t handle, int guarantee, const void *iov, unsigned int iov_len)',
    ),
    membership_get: f(
      'int cpg_membership_get(uint64_t handle, void *group, void *members, void *count)',
    ),
    iteration_initialize: f(
      'int cpg_iteration_initialize(uint64_t handle, int type, const void *group, void *iter)',
    ),
    iteration_next: f('int cpg_iteration_next(uint64_t iter, void *description)'),
    iteration_finalize: f('int cpg_iteration_finalize(uint64_t iter)'),
  };
}
