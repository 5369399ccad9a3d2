/**
 * The set workload: clients add unique elements (one key each, under `set/`), and a final
 * linearizable list reads them all back. No acknowledged add may be lost, nothing never sent
 * may appear.
 * @module
 */
import { HistoryRecorder, type HistoryRecord, type Outcome } from '../../history.js';
import { checkSet } from '../../checkers/set.js';
import type { Verdict } from '../../checkers/verdict.js';
import type { SimNode } from '../system.js';
import {
  errorName,
  outcomeOf,
  runClients,
  type Workload,
  type WorkloadContext,
} from '../workload.js';

/** The set workload. */
export class SetWorkload implements Workload {
  readonly name = 'set';
  readonly history: HistoryRecorder;
  #next = 0;

  constructor(now: () => number, onRecord?: (r: HistoryRecord) => void) {
    this.history = new HistoryRecorder(now, onRecord);
  }

  run(ctx: WorkloadContext): Promise<void> {
    return runClients(ctx, this);
  }

  ready(n: SimNode): boolean {
    return n.kv !== undefined && n.kv.alive && !n.kv.paused;
  }

  async step(ctx: WorkloadContext, n: SimNode, p: string): Promise<Outcome> {
    const element = ++this.#next;
    const id = this.history.invoke(p, 'add', { element });
    try {
      await n.kv!.handle.set(`set/${element}`, true, { timeout: ctx.opTimeout });
      this.history.complete(id, p, 'add', 'ok');
      return 'ok';
    } catch (e) {
      const o = outcomeOf(e);
      this.history.complete(id, p, 'add', o, null, errorName(e));
      return o;
    }
  }

  async final(ctx: WorkloadContext): Promise<void> {
    for (const n of ctx.system.nodes) {
      if (n.kv === undefined || !n.kv.alive) continue;
      const p = `set.final.n${n.id}`;
      const id = this.history.invoke(p, 'read', null);
      const read = n.kv.handle.list('set/', {
        consistency: 'linearizable',
        timeout: ctx.opTimeout,
      });
      try {
        const items = await ctx.drive(read);
        this.history.complete(
          id,
          p,
          'read',
          'ok',
          items.map((i) => Number(i.key.slice('set/'.length))),
        );
        return;
      } catch (e) {
        this.history.complete(id, p, 'read', 'fail', null, errorName(e));
      }
    }
  }

  check(): Verdict {
    return checkSet(this.history.records);
  }
}
