/**
 * The checks and the grant rule of lock commands (entry-steps.ts, which both `apply` under
 * immer and `reduceLocks` call). Pure functions of their arguments.
 * @module
 */
import type { ApplyContext } from '@cpgkit/statemachine';
import type { AcquireCommand } from './commands.js';
import { InvalidLockRequestError, OwnerGoneError } from './errors.js';
import type { LockEntry, LockMode, Owner } from './state.js';

/** The longest name (in UTF-16 code units) of a lock or election. */
export const MAX_NAME_LENGTH = 512;

/** The longest lease (ms): about 24 days. */
export const MAX_TTL = 2 ** 31 - 1;

/** Throws `InvalidLockRequestError` unless `name` has 1..`MAX_NAME_LENGTH` code units. */
export function checkName(name: string): void {
  if (name.length === 0 || name.length > MAX_NAME_LENGTH) {
    throw new InvalidLockRequestError(
      `lock/election name must have 1..${MAX_NAME_LENGTH} characters`,
    );
  }
}

/**
 * Throws `InvalidLockRequestError` for a name every plain object inherits (`toString`,
 * `constructor`, `__proto__`...): the state keeps names as members of plain objects, where such
 * a name reads the inherited member. Commands on these names always failed (with a TypeError
 * before this check), so refusing them changes no state.
 */
export function checkOwnName(name: string): void {
  if (name in Object.prototype)
    throw new InvalidLockRequestError(`'${name}' cannot name a lock or election`);
}

/** Throws `InvalidLockRequestError` unless `ttl` is absent or a lease length in 1..`MAX_TTL`. */
export function checkTtl(ttl: number | null | undefined): number | null {
  if (ttl === undefined || ttl === null) return null;
  if (!Number.isFinite(ttl) || ttl <= 0 || ttl > MAX_TTL) {
    throw new InvalidLockRequestError(`ttl must be a number of ms in 1..${MAX_TTL}, got ${ttl}`);
  }
  return ttl;
}

/** Whether a request in `mode` fits next to the current holders. */
export function canGrant(entry: LockEntry, mode: LockMode): boolean {
  if (mode === 'exclusive') return entry.holders.length === 0;
  return (
    entry.holders.every((h) => h.mode === 'shared') &&
    (entry.limit === 0 || entry.holders.length < entry.limit)
  );
}

/** The owner of a command: the process incarnation that sent it. */
export function ownerOf(ctx: ApplyContext): Owner {
  return { incarnation: ctx.sender.incarnation, nodeid: ctx.sender.nodeid, pid: ctx.sender.pid };
}

/**
 * The checks of an acquire, in the order both ways of applying it make them: the owner has
 * not left (`OwnerGoneError`), then the name, the lease, the mode its kind allows and a
 * semaphore's permits (`InvalidLockRequestError`). Returns the lease and how many may hold the
 * lock at once (0: any number of shared holders, a rwlock).
 */
export function acquireTerms(
  departed: readonly string[],
  owner: Owner,
  cmd: AcquireCommand,
): { readonly ttl: number | null; readonly limit: number } {
  if (departed.includes(owner.incarnation)) {
    throw new OwnerGoneError(`incarnation ${owner.incarnation} already left the group`);
  }
  checkName(cmd.name);
  const ttl = checkTtl(cmd.ttl);
  const wantMode: LockMode =
    cmd.kind === 'mutex' ? 'exclusive' : cmd.kind === 'semaphore' ? 'shared' : cmd.mode;
  if (wantMode !== cmd.mode)
    throw new InvalidLockRequestError(`a ${cmd.kind} is only taken in ${wantMode} mode`);
  let limit = cmd.kind === 'rwlock' ? 0 : 1;
  if (cmd.kind === 'semaphore') {
    const p = cmd.permits;
    if (p === undefined || !Number.isInteger(p) || p < 1 || p > 1_000_000) {
      throw new InvalidLockRequestError(`a semaphore needs permits in 1..1000000, got ${p}`);
    }
    limit = p;
  }
  checkOwnName(cmd.name);
  return { ttl, limit };
}
