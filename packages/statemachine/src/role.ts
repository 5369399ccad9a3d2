/**
 * The role of a member: a replica that holds the state, or a client of the replicas.
 * @module
 */

/**
 * What a member is to its group.
 * - `'replica'`: holds the state, counts in the replica set `Q`, persists with `dataDir`. Right
 *   for long-lived processes (`cpgkit serve`, one per node, or a long-lived service).
 * - `'client'`: a passive member. It sends commands and may hold locks and leaderships as its
 *   incarnation, but never holds or votes on the state, never starts a store, and takes no
 *   `dataDir`. Right for short-lived processes (CLI commands, jobs): a replica set made of
 *   processes that come and go ends up in one data directory nobody else can reach.
 */
export type Role = 'replica' | 'client';

/** The options `roleOptions` reads and sets (a subset of `OpenOptions`). */
export interface RoleOptions {
  readonly role?: Role;
  readonly passive?: boolean;
  readonly bootstrap?: boolean | 'alone' | 'force';
  readonly dataDir?: string;
}

/**
 * Turn `role` into the state machine's options: `'client'` is `passive: true, bootstrap: false`
 * with no `dataDir`; `'replica'` is `passive: false`. Without `role`, the options are returned
 * as they are (a replica unless `passive` says otherwise).
 * @throws RangeError when `role` contradicts `passive`, or a client is given a `dataDir`
 */
export function roleOptions<O extends RoleOptions>(options: O): O {
  const { role } = options;
  if (role === undefined) return options;
  if (role === 'client') {
    if (options.passive === false)
      throw new RangeError("role: 'client' is a passive member: passive: false contradicts it");
    if (options.dataDir !== undefined)
      throw new RangeError("role: 'client' holds no state: it takes no dataDir");
    if (options.bootstrap !== undefined && options.bootstrap !== false)
      throw new RangeError("role: 'client' never starts a store: bootstrap must be false");
    return { ...options, passive: true, bootstrap: false };
  }
  if (role === 'replica') {
    if (options.passive === true)
      throw new RangeError("role: 'replica' holds the state: passive: true contradicts it");
    return { ...options, passive: false };
  }
  throw new RangeError(`role must be 'replica' or 'client', got '${String(role)}'`);
}
