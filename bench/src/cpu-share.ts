/**
 * Who gets the cores during a probe run: how many of the machine's cores a set of processes
 * (corosync's daemons) used, sampled every 100 ms, and a bystander's event-loop stalls (this
 * process's own 5 ms timer, late by more than 10 ms: what any normal-priority process on the
 * host suffers meanwhile); and, for the latency probe's `--sched rr`, putting the clients
 * (workers, C clients) at real-time round robin priority 1, every thread (`chrt -a -r -p 1`):
 * above every normal process, below corosync's own 99. A diagnostic of the bench, never of a
 * row of the report.
 * @module
 */
import { readFileSync } from 'node:fs';
import { run } from './procs.js';

/** CPU ms (user + system, clock ticks of 10 ms) of `pids` so far; a gone pid counts 0. */
function cpuMs(pids: readonly number[]): number {
  let ms = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ms += (Number(f[11]) + Number(f[12])) * 10;
    } catch {
      // exited
    }
  }
  return ms;
}

/** What a {@link CpuShareSampler} saw. */
export interface CpuShare {
  /** Cores used by the sampled processes over 100 ms windows: median, 90th percentile, max. */
  readonly cores: { p50: number; p90: number; max: number };
  /** This (normal-priority, idle) process's timer late by more than 10 ms: how often, longest. */
  readonly bystanderStalls: number;
  readonly bystanderLongestMs: number;
}

/** Samples `pids`' CPU every 100 ms and its own timer's lateness every 5 ms, until `stop`. */
export class CpuShareSampler {
  private readonly windows: number[] = [];
  private stalls = 0;
  private longest = 0;
  private lastTick = performance.now();
  private lastWindow = this.lastTick;
  private lastCpu: number;
  private timer: NodeJS.Timeout;

  constructor(private readonly pids: readonly number[]) {
    this.lastCpu = cpuMs(pids);
    this.timer = setTimeout(this.tick, 5);
  }

  private readonly tick = (): void => {
    const now = performance.now();
    const late = now - this.lastTick - 5;
    if (late > 10) {
      this.stalls++;
      this.longest = Math.max(this.longest, late);
    }
    this.lastTick = now;
    if (now - this.lastWindow >= 100) {
      const cpu = cpuMs(this.pids);
      this.windows.push((cpu - this.lastCpu) / (now - this.lastWindow));
      this.lastCpu = cpu;
      this.lastWindow = now;
    }
    this.timer = setTimeout(this.tick, 5);
  };

  stop(): CpuShare {
    clearTimeout(this.timer);
    const w = [...this.windows].sort((a, b) => a - b);
    const q = (p: number) => w[Math.min(w.length - 1, Math.floor(p * w.length))] ?? 0;
    return {
      cores: { p50: q(0.5), p90: q(0.9), max: w.at(-1) ?? 0 },
      bystanderStalls: this.stalls,
      bystanderLongestMs: this.longest,
    };
  }
}

/** Put every thread of `pids` at SCHED_RR priority 1 (`chrt`; root). */
export async function realtimeClients(pids: readonly number[]): Promise<void> {
  for (const pid of pids) await run('chrt', ['-a', '-r', '-p', '1', String(pid)]);
}
