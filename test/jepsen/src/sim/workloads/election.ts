/**
 * The election workload: every node's client campaigns for one election, leads for a while
 * and resigns; every replica reports what it observes (term and leader) at every change.
 * @module
 */
import type { Leadership } from '@cpgkit/locks';
import { HistoryRecorder, type HistoryRecord, type Outcome } from '../../history.js';
import { checkElection } from '../../checkers/election.js';
import type { Verdict } from '../../checkers/verdict.js';
import {
  errorName,
  outcomeOf,
  runClients,
  type Workload,
  type WorkloadContext,
} from '../workload.js';
import type { Service, SimNode } from '../system.js';
import type { Locks } from '@cpgkit/locks';

const NAME = 'E0';

/** The election workload. */
export class ElectionWorkload implements Workload {
  readonly name = 'election';
  readonly history: HistoryRecorder;
  readonly #users = new Map<Service<unknown>, Set<string>>();

  constructor(now: () => number, onRecord?: (r: HistoryRecord) => void) {
    this.history = new HistoryRecorder(now, onRecord);
  }

  /** The nemesis killed `s`: its clients believe nothing any more. */
  crashed(s: Service<unknown>): void {
    for (const p of this.#users.get(s) ?? []) this.history.event('crash', { process: p });
    this.#users.delete(s);
  }

  /** A replica was opened: record what it observes from now on. */
  opened(s: Service<Locks>): void {
    const locks = s.handle;
    const who = `locks.n${s.node}.${s.gen}`;
    let last = '';
    const report = (): void => {
      if (!s.alive || locks.machine.status === 'closed') return;
      const info = locks.leader(NAME);
      const value = {
        name: NAME,
        term: info.term.toString(),
        leader: info.leader?.incarnation ?? null,
        stale: info.stale,
      };
      const key = JSON.stringify(value);
      if (key === last) return;
      last = key;
      this.history.event('observe', value, who);
    };
    locks.machine.subscribe(report);
    locks.machine.on('status', report);
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
    const id = this.history.invoke(p, 'campaign', { name: NAME });
    let l: Leadership;
    try {
      l = await svc.handle.campaign(NAME, { timeout: ctx.opTimeout, value: p });
    } catch (e) {
      const o = outcomeOf(e);
      this.history.complete(id, p, 'campaign', o, null, errorName(e));
      return o;
    }
    const won = {
      name: NAME,
      grant: l.id,
      term: l.term.toString(),
      owner: svc.handle.machine.self.incarnation,
    };
    this.history.complete(id, p, 'campaign', 'ok', won);
    const lost = { name: NAME, grant: l.id, term: won.term };
    if (l.lost) this.history.event('lost', { ...lost, reason: 'at election' }, p);
    else
      l.signal.addEventListener('abort', () => {
        const reason = (l.signal.reason as { reason?: string } | undefined)?.reason ?? '?';
        this.history.event('lost', { ...lost, reason }, p);
      });
    // lead for a while (or until the signal aborts)
    for (let i = 0, n = ctx.rng.int(4); i < n && !l.lost && !ctx.stopped(); i++) {
      await ctx.sleep(20 + ctx.rng.int(80));
    }
    if (!svc.alive) return 'ok';
    const rid = this.history.invoke(p, 'resign', lost);
    try {
      await l.resign();
      this.history.complete(rid, p, 'resign', 'ok');
      return 'ok';
    } catch (e) {
      const o = outcomeOf(e);
      this.history.complete(rid, p, 'resign', o, null, errorName(e));
      return o;
    }
  }

  final(): Promise<void> {
    return Promise.resolve();
  }

  check(): Verdict {
    return checkElection(this.history.records);
  }
}
