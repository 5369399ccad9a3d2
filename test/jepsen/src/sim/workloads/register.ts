/**
 * The register workload: linearizable reads, writes and compare-and-sets of a few keys of the
 * `ReplicatedMap`, every written value unique. Checked for linearizability key by key.
 * @module
 */
import {
  CompareFailedError,
  type Json,
  type MapCompare,
  type ReadConsistency,
} from '@cpgkit/statemachine';
import { HistoryRecorder, type HistoryRecord, type Outcome, type Value } from '../../history.js';
import { checkRegister } from '../../checkers/register.js';
import type { Verdict } from '../../checkers/verdict.js';
import {
  errorName,
  outcomeOf,
  runClients,
  type Workload,
  type WorkloadContext,
} from '../workload.js';
import type { SimNode } from '../system.js';

const KEYS = ['r0', 'r1', 'r2'];

/** The register workload. */
export class RegisterWorkload implements Workload {
  readonly name = 'register';
  readonly history: HistoryRecorder;
  #next = 0;
  /** Values seen or written per key, for plausible compare-and-sets. */
  readonly #recent = new Map<string, Value[]>();

  readonly #consistency: ReadConsistency;

  /** @param consistency - how clients read (`'stale'`: local reads, not linearizable) */
  constructor(
    now: () => number,
    consistency: ReadConsistency = 'linearizable',
    onRecord?: (r: HistoryRecord) => void,
  ) {
    this.history = new HistoryRecorder(now, onRecord);
    this.#consistency = consistency;
  }

  run(ctx: WorkloadContext): Promise<void> {
    return runClients(ctx, this);
  }

  ready(n: SimNode): boolean {
    return n.kv !== undefined && n.kv.alive && !n.kv.paused;
  }

  async #read(ctx: WorkloadContext, n: SimNode, p: string, key: string): Promise<Outcome> {
    const kv = n.kv!.handle;
    const id = this.history.invoke(p, 'read', { key });
    try {
      const v = await kv.get(key, { consistency: this.#consistency, timeout: ctx.opTimeout });
      this.history.complete(id, p, 'read', 'ok', v ?? null);
      this.#remember(key, v ?? null);
      return 'ok';
    } catch (e) {
      // a read changes nothing: whatever happened, it is as if it never ran
      this.history.complete(id, p, 'read', 'fail', null, errorName(e));
      return 'fail';
    }
  }

  async step(ctx: WorkloadContext, n: SimNode, p: string): Promise<Outcome> {
    const kv = n.kv!.handle;
    const key = KEYS[ctx.rng.int(KEYS.length)]!;
    const r = ctx.rng.next();
    if (r < 0.5) return this.#read(ctx, n, p, key);
    const value = ++this.#next;
    if (r < 0.75) {
      const id = this.history.invoke(p, 'write', { key, value });
      try {
        await kv.set(key, value, { timeout: ctx.opTimeout });
        this.history.complete(id, p, 'write', 'ok');
        this.#remember(key, value);
        return 'ok';
      } catch (e) {
        const o = outcomeOf(e);
        this.history.complete(id, p, 'write', o, null, errorName(e));
        return o;
      }
    }
    const recent = this.#recent.get(key) ?? [null];
    const from = recent[ctx.rng.int(recent.length)]!;
    const id = this.history.invoke(p, 'cas', { key, from, to: value });
    const compare: MapCompare =
      from === null ? { key, exists: false } : { key, value: from as Json };
    try {
      await kv.transaction([compare], [{ op: 'set', key, value }], { timeout: ctx.opTimeout });
      this.history.complete(id, p, 'cas', 'ok', { applied: true });
      this.#remember(key, value);
      return 'ok';
    } catch (e) {
      if (e instanceof CompareFailedError) {
        this.history.complete(id, p, 'cas', 'ok', { applied: false });
        return 'ok';
      }
      const o = outcomeOf(e);
      this.history.complete(id, p, 'cas', o, null, errorName(e));
      return o;
    }
  }

  #remember(key: string, v: Value): void {
    const l = this.#recent.get(key) ?? [];
    l.push(v);
    if (l.length > 4) l.shift();
    this.#recent.set(key, l);
  }

  async final(ctx: WorkloadContext): Promise<void> {
    // every key read once more, from every node, after healing
    for (const n of ctx.system.nodes) {
      if (n.kv === undefined || !n.kv.alive) continue;
      for (const key of KEYS) {
        const p = `reg.final.n${n.id}`;
        await ctx.drive(this.#read(ctx, n, p, key));
      }
    }
  }

  check(): Verdict {
    return checkRegister(this.history.records);
  }
}
