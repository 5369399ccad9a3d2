/**
 * The lock workload: every node's client acquires a mutex, writes to a fenced resource (one per
 * lock name, shared like an external database) a few times while it believes it holds the
 * lock, and releases it. Every acquire, release, lost signal and fenced write is recorded.
 * @module
 */
import { FencedResource, StaleTokenError, type Lock } from '@cpgkit/locks';
import { HistoryRecorder, type HistoryRecord, type Outcome } from '../../history.js';
import { checkLocks } from '../../checkers/lock.js';
import type { Verdict } from '../../checkers/verdict.js';
import {
  errorName,
  outcomeOf,
  runClients,
  type Workload,
  type WorkloadContext,
} from '../workload.js';
import type { Service, SimNode } from '../system.js';
import { lockOf } from '@cpgkit/locks';

const NAMES = ['L0', 'L1'];

/** The lock workload. */
export class LockWorkload implements Workload {
  readonly name = 'lock';
  readonly history: HistoryRecorder;
  readonly #resources = new Map(NAMES.map((n) => [n, new FencedResource<number>()]));
  /** The client process using each live service, to record its death. */
  readonly #users = new Map<Service<unknown>, Set<string>>();

  constructor(now: () => number, onRecord?: (r: HistoryRecord) => void) {
    this.history = new HistoryRecorder(now, onRecord);
  }

  /** The nemesis killed `s`: its clients believe nothing any more. */
  crashed(s: Service<unknown>): void {
    for (const p of this.#users.get(s) ?? []) this.history.event('crash', { process: p });
    this.#users.delete(s);
  }

  run(ctx: WorkloadContext): Promise<void> {
    return runClients(ctx, this);
  }

  ready(n: SimNode): boolean {
    return n.locks !== undefined && n.locks.alive && !n.locks.paused;
  }

  async step(ctx: WorkloadContext, n: SimNode, p: string): Promise<Outcome> {
    const svc = n.locks!;
    const users = this.#users.get(svc) ?? new Set();
    users.add(p);
    this.#users.set(svc, users);
    const name = NAMES[ctx.rng.int(NAMES.length)]!;
    const id = this.history.invoke(p, 'acquire', { name });
    let lock: Lock;
    try {
      lock = await svc.handle.acquire(name, { timeout: ctx.opTimeout });
    } catch (e) {
      // a timed-out or refused acquire never let the client believe it held the lock
      const o = outcomeOf(e);
      this.history.complete(id, p, 'acquire', o, null, errorName(e));
      return o;
    }
    const grant = { name, grant: lock.id, token: lock.token.toString() };
    this.history.complete(id, p, 'acquire', 'ok', grant);
    if (lock.lost) this.history.event('lost', { ...grant, reason: 'at grant' }, p);
    else
      lock.signal.addEventListener('abort', () => {
        const reason = (lock.signal.reason as { reason?: string } | undefined)?.reason ?? '?';
        this.history.event('lost', { ...grant, reason }, p);
      });
    const resource = this.#resources.get(name)!;
    const writes = 1 + ctx.rng.int(3);
    for (let i = 0; i < writes; i++) {
      await ctx.sleep(ctx.rng.int(60));
      // a well-behaved holder writes only while it believes it holds the lock, and not while
      // its process is stopped
      if (lock.lost || ctx.stopped() || !svc.alive) break;
      if (svc.paused) continue;
      let accepted = true;
      try {
        resource.write(lock.token, i);
      } catch (e) {
        if (!(e instanceof StaleTokenError)) throw e;
        accepted = false;
      }
      this.history.event(
        'fenced-write',
        { ...grant, accepted, highest: resource.highest.toString() },
        p,
      );
    }
    if (!svc.alive) return 'ok';
    const rid = this.history.invoke(p, 'release', grant);
    try {
      await lock.release();
      this.history.complete(rid, p, 'release', 'ok');
      return 'ok';
    } catch (e) {
      const o = outcomeOf(e);
      this.history.complete(rid, p, 'release', o, null, errorName(e));
      return o;
    }
  }

  /** After healing: every replica's holders (the release check reads them). */
  final(ctx: WorkloadContext): Promise<void> {
    for (const n of ctx.system.nodes) {
      const s = n.locks;
      if (s === undefined || !s.alive || s.handle.machine.status !== 'ready') continue;
      for (const name of NAMES) {
        const holders = lockOf(s.handle.machine.state.locks, name)?.holders.map((h) => h.id) ?? [];
        this.history.event('holders', { name, holders }, `locks.n${n.id}`);
      }
    }
    return Promise.resolve();
  }

  check(): Verdict {
    return checkLocks(this.history.records);
  }
}
