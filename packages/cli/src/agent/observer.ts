/**
 * `MachineObserver`: what one replica's public events say, gathered once for the agent's logs,
 * metrics and status report: sync rounds and their duration, commands applied and how long they
 * took from their sender, digest mismatches, foreign messages, status changes.
 * @module
 */
import { callHandlers } from '@cpgkit/core';
import type { MachineEvent, MachineStatus, StateChange, StateMachine } from '@cpgkit/statemachine';

/** Which of the agent's two machines. */
export type MachineLabel = 'store' | 'locks';

/** What happened on one machine, as the observer reports it. */
export type ObservedEvent =
  | {
      readonly type: 'status';
      readonly status: MachineStatus;
      readonly previous: MachineStatus;
    }
  /** A sync round ended (status left `syncing`) after `ms`. */
  | { readonly type: 'round'; readonly ms: number }
  /** A command was applied here; `latencyMs` from its sender's clock at send to here. */
  | { readonly type: 'applied'; readonly ok: boolean; readonly latencyMs: number }
  | { readonly type: 'quorum'; readonly quorate: boolean }
  | Extract<MachineEvent, { type: 'mismatch' }>
  /** A write to the data directory failed (the replica goes on from memory and retries). */
  | Extract<MachineEvent, { type: 'persist-failed' }>
  /** `delta` more foreign messages were skipped. */
  | { readonly type: 'foreign'; readonly delta: number; readonly count: number };

/** The observer's counters. */
export interface MachineStats {
  rounds: number;
  /** Wall-clock ms of the end of the last sync round, or `undefined` before the first. */
  lastSyncAt: number | undefined;
  lastSyncMs: number | undefined;
  applied: number;
  failed: number;
  mismatches: number;
  foreign: number;
  /** Failed writes to the data directory. */
  persistFailures: number;
}

/** Observes one machine through its public events until `close()`. */
export class MachineObserver {
  readonly label: MachineLabel;
  readonly stats: MachineStats = {
    rounds: 0,
    lastSyncAt: undefined,
    lastSyncMs: undefined,
    applied: 0,
    failed: 0,
    mismatches: 0,
    foreign: 0,
    persistFailures: 0,
  };
  readonly #listeners = new Set<(e: ObservedEvent) => void>();
  readonly #off: (() => void)[];
  #status: MachineStatus;
  #syncStart: number | undefined;

  constructor(label: MachineLabel, machine: StateMachine<unknown, unknown, unknown>) {
    this.label = label;
    this.#status = machine.status;
    this.#syncStart = machine.status === 'syncing' ? performance.now() : undefined;
    const wall = (): number => machine.clock.wallNow();
    // synced before we looked: the sync ended about now
    if (machine.status === 'ready' || machine.status === 'minority') this.stats.lastSyncAt = wall();
    this.#off = [
      machine.on('status', (e) => {
        const previous = this.#status;
        this.#status = e.status;
        if (e.status === 'syncing') {
          this.#syncStart ??= performance.now();
        } else if (this.#syncStart !== undefined) {
          const ms = performance.now() - this.#syncStart;
          this.#syncStart = undefined;
          this.stats.rounds++;
          this.stats.lastSyncAt = wall();
          this.stats.lastSyncMs = ms;
          this.#emit({ type: 'round', ms });
        }
        this.#emit({ type: 'status', status: e.status, previous });
      }),
      machine.on('quorum', (e) => this.#emit({ type: 'quorum', quorate: e.quorate })),
      machine.on('mismatch', (e) => {
        this.stats.mismatches++;
        this.#emit(e);
      }),
      machine.on('persist-failed', (e) => {
        this.stats.persistFailures++;
        this.#emit(e);
      }),
      machine.on('foreign', (e) => {
        const delta = Math.max(0, e.count - this.stats.foreign);
        this.stats.foreign = e.count;
        this.#emit({ type: 'foreign', delta, count: e.count });
      }),
      machine.subscribe((c: StateChange<unknown, unknown, unknown>) => {
        if (c.kind !== 'command') return;
        if (c.ok) this.stats.applied++;
        else this.stats.failed++;
        this.#emit({ type: 'applied', ok: c.ok, latencyMs: Math.max(0, wall() - c.ctx.time) });
      }),
    ];
  }

  /** Call `listener` with every observed event; returns the unsubscribe function. */
  on(listener: (e: ObservedEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Stop observing. */
  close(): void {
    for (const off of this.#off) off();
    this.#listeners.clear();
  }

  #emit(e: ObservedEvent): void {
    callHandlers(this.#listeners, e); // a throw is rethrown later, uncaught
  }
}
