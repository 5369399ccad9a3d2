/**
 * What a workload is, and what its clients share: one client process per node, which runs
 * operations one at a time against that node's current replica, and records them.
 * @module
 */
import type { Random } from '@cpgkit/core/testing';
import type { HistoryRecorder, Outcome } from '../history.js';
import type { Verdict } from '../checkers/verdict.js';
import type { SimNode, SimSystem } from './system.js';

/** What workloads get from the run. */
export interface WorkloadContext {
  readonly system: SimSystem;
  readonly rng: Random;
  /** A virtual-time sleep. */
  sleep(ms: number): Promise<void>;
  /** Whether the clients should stop (the run is over). */
  stopped(): boolean;
  /** Timeout of every operation, in virtual ms. */
  readonly opTimeout: number;
  /** Wait for `p` before the final phase (an operation the driver started). */
  track(p: Promise<unknown>): void;
  /** Run the cluster (and virtual time) until `p` settles; its result or its error. */
  drive<T>(p: Promise<T>): Promise<T>;
}

/** A workload: clients that record a history, a final read, a checker. */
export interface Workload {
  readonly name: string;
  readonly history: HistoryRecorder;
  /** Start the clients (they run until `ctx.stopped()`); resolves when all have returned. */
  run(ctx: WorkloadContext): Promise<void>;
  /** Whether a client can work on node `n` now (its replica is up and not stopped). */
  ready(n: SimNode): boolean;
  /** One operation of a client `process` on node `n`; resolves with its outcome. */
  step(ctx: WorkloadContext, n: SimNode, process: string): Promise<Outcome>;
  /** After healing: the final reads the checker needs. */
  final(ctx: WorkloadContext): Promise<void>;
  check(): Verdict;
}

/**
 * How an error ends an operation: `fail` when the library says it was not applied (safe to
 * retry), `unknown` otherwise.
 */
export function outcomeOf(e: unknown): Outcome {
  const name = e instanceof Error ? e.name : '';
  return name === 'NoQuorumError' || name === 'InterruptedError' || name === 'NoReplicaError'
    ? 'fail'
    : 'unknown';
}

/** The error's name, for the record. */
export function errorName(e: unknown): string {
  return e instanceof Error ? e.name : String(e);
}

/**
 * Run one client per node: `step(node, process)` performs one operation; the process name
 * changes after an operation whose outcome is unknown (a Jepsen process never has two
 * operations in flight) and after its replica was killed.
 */
export async function runClients(ctx: WorkloadContext, w: Workload): Promise<void> {
  await Promise.all(
    ctx.system.nodes.map(async (n) => {
      let incarnation = 0;
      while (!ctx.stopped()) {
        if (!w.ready(n)) {
          await ctx.sleep(10 + ctx.rng.int(40));
          continue;
        }
        const outcome = await w.step(ctx, n, `${w.name}.n${n.id}.${incarnation}`);
        if (outcome === 'unknown') incarnation++;
        await ctx.sleep(30 + ctx.rng.int(200));
      }
    }),
  );
}
