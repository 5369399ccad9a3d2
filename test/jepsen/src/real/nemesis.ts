/**
 * The real-cluster nemesis: from the seed, one fault at a time, each held a while and healed:
 * isolate a node; split the cluster majority/minority (5 nodes: 2|3, with `scripts/cluster
 * split`); kill -9 a serve and restart it with its data directory; kill -9 a node's corosync
 * and start it; SIGSTOP/SIGCONT a serve (alone, or across the sync rounds of another serve's
 * restart); SIGSTOP/SIGCONT a corosync daemon; stop (SIGTERM) and restart every serve. Every
 * step is recorded on the run's clock as it happens (`fault` events: `start`/`end` bound a
 * fault's band; `action` events say what was done).
 * @module
 */
import type { Random } from '@cpgkit/core/testing';
import type { Value } from '../history.js';
import { cluster, daemonPid } from './cluster.js';
import type { Serves } from './serves.js';

/** The kinds of fault. */
export const FAULTS = [
  'isolate',
  'split',
  'kill-serve',
  'kill-corosync',
  'pause-serve',
  'pause-serve-across-sync',
  'pause-corosync',
  'restart-serves',
] as const;
export type FaultKind = (typeof FAULTS)[number];

/** Where the nemesis records what it does. */
export type FaultLog = (event: 'fault' | 'action', value: Value) => void;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The nemesis of one run. */
export class RealNemesis {
  readonly counts = new Map<FaultKind, number>();
  /** corosync daemons stopped with SIGSTOP (pid by node), to resume whatever happens. */
  readonly #pausedDaemons = new Map<number, number>();

  constructor(
    private readonly serves: Serves,
    private readonly nodes: number,
    private readonly rng: Random,
    private readonly log: FaultLog,
  ) {}

  #node(): number {
    return 1 + this.rng.int(this.nodes);
  }

  /** Pick the next fault. */
  choose(): FaultKind {
    const kinds = FAULTS.filter((k) => k !== 'split' || this.nodes >= 5);
    // a full restart is heavy: a third as often as the others
    for (;;) {
      const k = kinds[this.rng.int(kinds.length)]!;
      if (k !== 'restart-serves' || this.rng.chance(0.34)) return k;
    }
  }

  async #act(
    what: string,
    detail: Record<string, Value>,
    f: () => Promise<unknown> | void,
  ): Promise<void> {
    this.log('action', { action: what, ...detail });
    await f();
  }

  /** Apply fault `kind`, hold it `holdMs`, heal it. */
  async run(kind: FaultKind, holdMs: number): Promise<void> {
    this.counts.set(kind, (this.counts.get(kind) ?? 0) + 1);
    const n = this.#node();
    const s = this.serves;
    const band = (phase: 'start' | 'end', nodes: number[]): void =>
      this.log('fault', { fault: kind, phase, nodes });
    switch (kind) {
      case 'isolate': {
        band('start', [n]);
        await this.#act('isolate', { node: n }, () => cluster(['isolate', String(n)]));
        await sleep(holdMs);
        await this.#act('heal', { node: n }, () => cluster(['heal', String(n)]));
        band('end', [n]);
        return;
      }
      case 'split': {
        const minority = this.#pick(Math.floor((this.nodes - 1) / 2));
        band('start', minority);
        await this.#act('split', { nodes: minority }, () =>
          cluster(['split', ...minority.map(String)]),
        );
        await sleep(holdMs);
        await this.#act('heal', {}, () => cluster(['heal']));
        band('end', minority);
        return;
      }
      case 'kill-serve': {
        band('start', [n]);
        await this.#act('kill -9 serve', { node: n, pid: s.pid(n) ?? null }, () => s.kill(n));
        await sleep(holdMs);
        await this.#act('start serve', { node: n }, () => s.start(n));
        band('end', [n]);
        return;
      }
      case 'kill-corosync': {
        band('start', [n]);
        await this.#act('kill -9 corosync', { node: n }, () => cluster(['kill', String(n)]));
        await sleep(holdMs);
        await this.#act('start corosync', { node: n }, () => cluster(['start', String(n)]));
        band('end', [n]);
        return;
      }
      case 'pause-serve': {
        band('start', [n]);
        await this.#act('SIGSTOP serve', { node: n, pid: s.pid(n) ?? null }, () => s.pause(n));
        await sleep(holdMs);
        await this.#act('SIGCONT serve', { node: n }, () => s.resume(n));
        band('end', [n]);
        return;
      }
      case 'pause-serve-across-sync': {
        // a paused replica misses the sync rounds of another replica's restart
        const m = n === this.nodes ? 1 : n + 1;
        band('start', [n, m]);
        await this.#act('SIGSTOP serve', { node: n, pid: s.pid(n) ?? null }, () => s.pause(n));
        await sleep(holdMs / 3);
        await this.#act('kill -9 serve', { node: m, pid: s.pid(m) ?? null }, () => s.kill(m));
        await sleep(holdMs / 3);
        await this.#act('start serve', { node: m }, () => s.start(m));
        await sleep(holdMs / 3);
        await this.#act('SIGCONT serve', { node: n }, () => s.resume(n));
        band('end', [n, m]);
        return;
      }
      case 'pause-corosync': {
        const pid = await daemonPid(n);
        if (pid === undefined) return;
        band('start', [n]);
        await this.#act('SIGSTOP corosync', { node: n, pid }, () => {
          process.kill(pid, 'SIGSTOP');
          this.#pausedDaemons.set(n, pid);
        });
        await sleep(holdMs);
        await this.#act('SIGCONT corosync', { node: n, pid }, () => this.#resumeDaemon(n));
        band('end', [n]);
        return;
      }
      case 'restart-serves': {
        const all = this.#all();
        band('start', all);
        await this.#act('SIGTERM every serve', {}, () => Promise.all(all.map((i) => s.stop(i))));
        await sleep(Math.min(holdMs, 3000));
        await this.#act('start every serve', {}, () => all.forEach((i) => s.start(i)));
        band('end', all);
        return;
      }
    }
  }

  #all(): number[] {
    return Array.from({ length: this.nodes }, (_, i) => i + 1);
  }

  /** `k` distinct nodes, sorted. */
  #pick(k: number): number[] {
    const all = this.#all();
    for (let i = all.length - 1; i > 0; i--) {
      const j = this.rng.int(i + 1);
      [all[i], all[j]] = [all[j]!, all[i]!];
    }
    return all.slice(0, k).sort((a, b) => a - b);
  }

  #resumeDaemon(n: number): void {
    const pid = this.#pausedDaemons.get(n);
    if (pid === undefined) return;
    this.#pausedDaemons.delete(n);
    try {
      process.kill(pid, 'SIGCONT');
    } catch {
      // it died meanwhile
    }
  }

  /** Heal everything whatever state a fault left: links, paused processes, daemons, serves. */
  async healAll(): Promise<void> {
    for (const n of [...this.#pausedDaemons.keys()]) this.#resumeDaemon(n);
    await cluster(['heal']);
    for (const n of this.#all()) {
      this.serves.resume(n);
      if ((await daemonPid(n)) === undefined) await cluster(['start', String(n)]);
      this.serves.start(n);
    }
  }
}
