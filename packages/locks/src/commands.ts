/**
 * The commands of the lock machine and what `apply` returns for each. Every command goes
 * through the group; ids are chosen by the sender (uuid v7).
 * @module
 */
import type { Json, LockKind, LockMode } from './state.js';

/** Ask for a lock (or a permit, or a read/write share). */
export interface AcquireCommand {
  readonly type: 'acquire';
  /** The request id: the handle's identity from now on. */
  readonly id: string;
  readonly name: string;
  readonly kind: LockKind;
  readonly mode: LockMode;
  /** Semaphore permits (kind `semaphore` only). */
  readonly permits?: number;
  /** Lease length in ms (`null`/absent: no lease). */
  readonly ttl?: number | null;
  /** `false` (tryAcquire): grant now or answer `busy`, never leave a waiter behind. */
  readonly wait: boolean;
}

/** Give back a held lock, or withdraw a waiting request. */
export interface ReleaseCommand {
  readonly type: 'release' | 'withdraw';
  readonly id: string;
  readonly name: string;
}

/** Extend a held lease to `ttl` ms from now (replicated time). */
export interface RenewCommand {
  readonly type: 'renew';
  readonly id: string;
  readonly name: string;
  readonly ttl: number;
}

/** Stand for leadership of `name`. */
export interface CampaignCommand {
  readonly type: 'campaign';
  readonly id: string;
  readonly name: string;
  readonly value: Json;
}

/** Give up leadership, or withdraw a candidacy. */
export interface ResignCommand {
  readonly type: 'resign';
  readonly id: string;
  readonly name: string;
}

/** The leader announces a new value (same term). */
export interface ProclaimCommand {
  readonly type: 'proclaim';
  readonly id: string;
  readonly name: string;
  readonly value: Json;
}

/** Every command of the lock machine. */
export type LocksCommand =
  | AcquireCommand
  | ReleaseCommand
  | RenewCommand
  | CampaignCommand
  | ResignCommand
  | ProclaimCommand;

/** `acquire`: granted now (with its token), queued (FIFO position, 0-based), or busy (try). */
export type AcquireResult =
  | { readonly status: 'granted'; readonly token: string; readonly expires: number | null }
  | { readonly status: 'queued'; readonly position: number }
  | { readonly status: 'busy' };

/** `release`/`withdraw`: what the id was when the command was applied. */
export interface ReleaseResult {
  readonly released: 'held' | 'waiting' | 'none';
}

/** `renew`: the new end of the lease. */
export interface RenewResult {
  readonly expires: number;
}

/** `campaign`: elected now (with the term), or waiting in line. */
export type CampaignResult =
  | { readonly status: 'leader'; readonly term: string }
  | { readonly status: 'candidate'; readonly position: number };

/** `resign`: what the id was when the command was applied. */
export interface ResignResult {
  readonly resigned: 'leader' | 'candidate' | 'none';
}

/** `proclaim`: the term the value was announced in. */
export interface ProclaimResult {
  readonly term: string;
}

/** Every result of the lock machine. */
export type LocksResult =
  AcquireResult | ReleaseResult | RenewResult | CampaignResult | ResignResult | ProclaimResult;

const kinds = new Set(['mutex', 'semaphore', 'rwlock']);
const modes = new Set(['exclusive', 'shared']);

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** Whether `x` has the shape of a `LocksCommand` (checked before `apply`). */
export function isLocksCommand(x: unknown): x is LocksCommand {
  if (!isRecord(x) || typeof x.id !== 'string' || typeof x.name !== 'string') return false;
  switch (x.type) {
    case 'acquire':
      return (
        typeof x.kind === 'string' &&
        kinds.has(x.kind) &&
        typeof x.mode === 'string' &&
        modes.has(x.mode) &&
        typeof x.wait === 'boolean' &&
        (x.permits === undefined || typeof x.permits === 'number') &&
        (x.ttl === undefined || x.ttl === null || typeof x.ttl === 'number')
      );
    case 'release':
    case 'withdraw':
    case 'resign':
      return true;
    case 'renew':
      return typeof x.ttl === 'number';
    case 'campaign':
    case 'proclaim':
      return 'value' in x;
    default:
      return false;
  }
}
