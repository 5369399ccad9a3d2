/**
 * Opt-in write tracing inside a worker (the latency probe, `latency-probe.ts`; never in the
 * bench's own rows): what this replica applied and when, when its commit index moved, its
 * event-loop stalls, its GC pauses and its CPU. Every time is `nowMs()`, one monotonic clock
 * for every process on this machine, so the probe lines up the three replicas of one write.
 * Writes are told apart by a tag at the head of their value (`#N#`, see {@link taggedValue}).
 * @module
 */
import { PerformanceObserver, performance } from 'node:perf_hooks';
import type { ReplicatedMap } from '@cpgkit/statemachine';
import { nowMs } from './procs.js';

/** A value of `bytes` bytes that starts with write number `n`'s tag. */
export function taggedValue(n: number, bytes: number): string {
  const head = `#${n}#`;
  return head + 'v'.repeat(Math.max(0, bytes - head.length));
}

/** The write number of a {@link taggedValue}. */
export function tagOf(value: unknown): number | undefined {
  if (typeof value !== 'string' || value[0] !== '#') return undefined;
  const end = value.indexOf('#', 1);
  return end > 1 ? Number(value.slice(1, end)) : undefined;
}

/** What one worker saw while tracing. */
export interface WorkerTrace {
  readonly pid: number;
  /** `[write number, log index, applied at]` for every tagged write this replica applied. */
  readonly applied: [number, number, number][];
  /** `[commit index, at]`: each `commit` event (the commit index moved on an ack). */
  readonly commits: [number, number][];
  /** `[at, ms]`: event-loop turns late by more than `STALL_MS` (the sampler's own timer). */
  readonly stalls: [number, number][];
  /** `[start, ms, kind]`: GC pauses (V8's major/minor/incremental/weak kinds). */
  readonly gcs: [number, number, number][];
  /** CPU used while tracing, ms (user, system). */
  readonly cpuMs: { user: number; system: number };
  readonly elapsedMs: number;
}

/** How often the stall sampler looks, and from which lateness on a turn counts as a stall. */
const SAMPLE_MS = 5;
const STALL_MS = 10;

/** A trace being recorded; `stop` ends it and returns what it saw. */
export class Tracer {
  readonly #applied: [number, number, number][] = [];
  readonly #commits: [number, number][] = [];
  readonly #stalls: [number, number][] = [];
  readonly #gcs: [number, number, number][] = [];
  readonly #cpu = process.cpuUsage();
  readonly #start = nowMs();
  readonly #offset = nowMs() - performance.now();
  readonly #unsubscribe: (() => void)[] = [];
  readonly #sampler: NodeJS.Timeout;
  readonly #gcObserver: PerformanceObserver;

  constructor(map: ReplicatedMap | undefined) {
    if (map) {
      this.#unsubscribe.push(
        map.machine.subscribe((c) => {
          if (c.kind !== 'command') return;
          const op = c.command.ops[0];
          const n = op?.op === 'set' ? tagOf(op.value) : undefined;
          if (n !== undefined) this.#applied.push([n, Number(c.ctx.index), nowMs()]);
        }),
        map.machine.on('commit', (e) => void this.#commits.push([Number(e.index), nowMs()])),
      );
    }
    let last = nowMs();
    this.#sampler = setInterval(() => {
      const t = nowMs();
      if (t - last > SAMPLE_MS + STALL_MS) this.#stalls.push([last, t - last - SAMPLE_MS]);
      last = t;
    }, SAMPLE_MS);
    this.#gcObserver = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        const kind = (e as { detail?: { kind?: number } }).detail?.kind ?? 0;
        this.#gcs.push([e.startTime + this.#offset, e.duration, kind]);
      }
    });
    this.#gcObserver.observe({ entryTypes: ['gc'] });
  }

  stop(): WorkerTrace {
    clearInterval(this.#sampler);
    this.#gcObserver.disconnect();
    for (const u of this.#unsubscribe) u();
    const cpu = process.cpuUsage(this.#cpu);
    return {
      pid: process.pid,
      applied: this.#applied,
      commits: this.#commits,
      stalls: this.#stalls,
      gcs: this.#gcs,
      cpuMs: { user: cpu.user / 1000, system: cpu.system / 1000 },
      elapsedMs: nowMs() - this.#start,
    };
  }
}
