/**
 * Every error class of @cpgkit/core, @cpgkit/statemachine and @cpgkit/locks has a string `code`
 * (`'CPGKIT_' + its name without "Error", in upper snake case`), unique, next to its `name`, and
 * an `outcome` that says whether the failed call took no effect (`'not-applied'`, safe to
 * retry) or may have (`'unknown'`); `isNotApplied` reads it, a thrower may say otherwise.
 */
import { describe, expect, it } from 'vitest';
import * as core from '@cpgkit/core';
import * as statemachine from '@cpgkit/statemachine';
import { MemoryCluster } from '@cpgkit/core/testing';
import * as locks from '../src/index.js';

type AnyError = new (...args: never[]) => core.CpgError;

/** Every exported subclass of `CpgError` in the three packages, by name. */
function errorClasses(): Map<string, AnyError> {
  const out = new Map<string, AnyError>();
  for (const mod of [core, statemachine, locks] as Record<string, unknown>[]) {
    for (const [name, value] of Object.entries(mod)) {
      if (typeof value !== 'function') continue;
      const proto = (value as { prototype?: unknown }).prototype;
      if (proto instanceof core.CpgError) out.set(name, value as AnyError);
    }
  }
  return out;
}

function make(C: AnyError): core.CpgError {
  return new (C as unknown as new (message: string) => core.CpgError)('test');
}

/** The classes whose failed call certainly took no effect. */
const NOT_APPLIED = new Set([
  'CorosyncNotRunningError',
  'LibraryNotFoundError',
  'AccessDeniedError',
  'AlreadyJoinedError',
  'TryAgainError',
  'InterruptedError',
  'NotJoinedError',
  'InvalidGroupNameError',
  'MessageTooLargeError',
  'QueueFullError',
  'NoQuorumError',
  'CommandFailedError',
  'ValueTooLargeError',
  'StoreFullError',
  'InvalidKeyError',
  'CompareFailedError',
  'HistoryCompactedError',
  'NoReplicaError',
  'LockKindMismatchError',
  'NotOwnerError',
  'NotHolderError',
  'OwnerGoneError',
  'InvalidLockRequestError',
  'StaleTokenError',
  'AlreadyHeldError',
  'NotReadyError',
]);

describe('error codes and outcomes', () => {
  const classes = errorClasses();

  it('finds the error classes of all three packages', () => {
    for (const name of ['TimeoutError', 'NoQuorumError', 'LockLostError', 'AlreadyHeldError'])
      expect(classes.has(name), name).toBe(true);
    expect(classes.size).toBeGreaterThanOrEqual(30);
  });

  it('every class has its own CPGKIT_ code, derived from its name, and keeps its name', () => {
    const seen = new Map<string, string>();
    for (const [name, C] of classes) {
      const e = make(C);
      expect(e.name).toBe(name);
      expect(e).toBeInstanceOf(Error);
      const expected = `CPGKIT_${name
        .replace(/Error$/, '')
        .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
        .toUpperCase()}`;
      expect(e.code, name).toBe(expected);
      expect(seen.get(e.code), `${name} and ${seen.get(e.code)} share a code`).toBeUndefined();
      seen.set(e.code, name);
    }
  });

  it("outcome: 'not-applied' for errors raised before anything took effect, 'unknown' otherwise", () => {
    for (const [name, C] of classes) {
      const e = make(C);
      expect(e.outcome, name).toBe(NOT_APPLIED.has(name) ? 'not-applied' : 'unknown');
      expect(core.isNotApplied(e), name).toBe(NOT_APPLIED.has(name));
    }
    // a thrower that knows better says so
    const t = new core.TimeoutError('waited for nothing that was sent', { outcome: 'not-applied' });
    expect(t.outcome).toBe('not-applied');
    expect(core.isNotApplied(t)).toBe(true);
    // not cpgkit's: unknown
    expect(core.isNotApplied(new Error('x'))).toBe(false);
    expect(core.isNotApplied(new DOMException('t', 'TimeoutError'))).toBe(false);
    expect(core.isNotApplied('a string')).toBe(false);
  });

  it('a closed Locks refuses with MachineClosedError, not applied (nothing was sent)', async () => {
    const cluster = new MemoryCluster({ nodes: 1, seed: 4, realTime: true });
    const l = await locks.Locks.open(cluster.member(1), { groupName: 'closed-test' });
    await l.close();
    const e = await l.acquire('x').catch((err: unknown) => err);
    expect(e).toBeInstanceOf(statemachine.MachineClosedError);
    expect(core.isNotApplied(e)).toBe(true);
    const c = await l.campaign('y').catch((err: unknown) => err);
    expect(core.isNotApplied(c)).toBe(true);
    cluster.destroy();
  });

  it('the cs_error_t of a corosync call is csError; JSON carries name, code, outcome, message', () => {
    const e = core.errorFromCode(core.CsError.TRY_AGAIN, 'cpg_mcast_joined');
    expect(e).toMatchObject({ code: 'CPGKIT_TRY_AGAIN', csError: 6, outcome: 'not-applied' });
    expect(JSON.parse(JSON.stringify(e))).toEqual({
      name: 'TryAgainError',
      code: 'CPGKIT_TRY_AGAIN',
      outcome: 'not-applied',
      message: e.message,
      csError: 6,
    });
    const q = new statemachine.NoQuorumError();
    expect(JSON.parse(JSON.stringify(q))).toEqual({
      name: 'NoQuorumError',
      code: 'CPGKIT_NO_QUORUM',
      outcome: 'not-applied',
      message: q.message,
    });
  });
});
