/**
 * The nemesis of the in-memory campaigns: picks a fault from the seed and applies it to the
 * system. Faults: isolate a node, split majority/minority (2|3 on five nodes), heal; kill a
 * replica's process and restart it from its data directory (later, or at once); kill a node's
 * corosync and start it again; pause a process and resume it, also across a sync round (a
 * membership change while it is stopped); a partition while a restarted replica receives its
 * state transfer; in an upgrade campaign, move a node's lock replica to the new state format
 * (restarted gracefully or killed, at once, or at whatever kills it next); when kills lose
 * writes, kill the first replica to ack a round's end with that ack in flight; faults in the
 * middle of a protocol step (mid-step-faults.ts). Every fault is recorded in the system's
 * fault history.
 * @module
 */
import type { MemoryCluster, Random } from '@cpgkit/core/testing';
import { Kind } from '@cpgkit/statemachine/internal';
import { LOCKS_STATE_FORMAT, type ServiceKind, type SimNode, type SimSystem } from './system.js';
import { frameKind, recordInFlight } from './in-flight.js';
import { applyMidStep, MID_STEP_FAULTS } from './mid-step-faults.js';
import { killInRound, shrinkAndForget } from './round-kill-faults.js';
import type { Draws } from './fault-draws.js';

/** The faults the nemesis can pick. */
export const FAULTS = [
  'isolate',
  'split',
  'heal',
  'crash',
  'restart',
  'crash-restart',
  'crash-node',
  'restart-node',
  'pause',
  'resume',
  'pause-across-sync',
  'partition-during-transfer',
  'crash-many',
  'upgrade',
  'kill-at-round-end',
  'kill-at-vote',
  'shrink-and-forget',
  'kill-two-at-vote',
  ...MID_STEP_FAULTS,
] as const;

/** Faults the nemesis can apply the instant a frame is in flight. */
export const IN_FLIGHT_FAULTS = [
  'isolate-sender',
  'split',
  'kill-sender',
  'pause-sender',
  'kill-sender-node',
] as const;

/** One of `IN_FLIGHT_FAULTS`. */
export type InFlightFault = (typeof IN_FLIGHT_FAULTS)[number];

/** One of `FAULTS`. */
export type Fault = (typeof FAULTS)[number];

/**
 * Let `n` turns of the event loop pass, the engine stepping meanwhile (a fault then cuts what
 * is still in flight). Turns while the engine is held do not count: real I/O (a replica's
 * write, its data directory read) takes as many of them as the machine's disk needs, and the
 * fault must come at the same step of the simulation on every run.
 */
export async function turns(cluster: MemoryCluster, n: number): Promise<void> {
  for (let i = 0; i < n;) {
    await new Promise((r) => setImmediate(r));
    if (!cluster.held) i++;
  }
}

/** Applies faults to a `SimSystem`. */
export class Nemesis {
  readonly #system: SimSystem;
  readonly #rng: Random;
  /** How many faults of each kind were applied (`in-flight:<fault>` for armed ones). */
  readonly counts = new Map<string, number>();

  /** The draws the faults in files of their own take (fault-draws.ts). */
  readonly #draws: Draws;

  constructor(system: SimSystem, rng: Random) {
    this.#system = system;
    this.#rng = rng;
    this.#draws = { rng, kind: () => this.#kind(), split: (alone) => this.#split(alone) };
  }

  #count(what: string): void {
    this.counts.set(what, (this.counts.get(what) ?? 0) + 1);
  }

  #pick<T>(xs: readonly T[]): T {
    return xs[this.#rng.int(xs.length)]!;
  }

  #kind(): ServiceKind {
    return this.#rng.chance(0.5) ? 'kv' : 'locks';
  }

  /** Pick a fault that makes sense now. */
  choose(): Fault {
    const sys = this.#system;
    const dead = sys.nodes.some(
      (n) => !sys.cluster.isUp(n.id) || n.kv?.alive === false || n.locks?.alive === false,
    );
    const paused = sys.nodes.some((n) => n.kv?.paused === true || n.locks?.paused === true);
    const split = sys.cluster.components().length > 1;
    const midStep = sys.options.midStepFaults === true;
    const weights: [Fault, number][] = [
      ['isolate', 3],
      ['split', 2],
      ['heal', split ? 4 : 0],
      ['crash', 2],
      ['restart', dead ? 5 : 0],
      ['crash-restart', 2],
      ['crash-node', 1],
      ['restart-node', sys.nodes.some((n) => !sys.cluster.isUp(n.id)) ? 4 : 0],
      ['pause', 1],
      ['resume', paused ? 4 : 0],
      ['pause-across-sync', 1],
      ['partition-during-transfer', 2],
      ['crash-many', 1],
      // last, weight 0 outside upgrade campaigns: the other campaigns' draws stay as they were
      ['upgrade', this.#behind().length > 0 ? 3 : 0],
      // the same, outside campaigns whose kills lose writes
      ['kill-at-round-end', sys.options.loseWrites === true ? 3 : 0],
      // and outside campaigns of forgotten rounds
      ['kill-at-vote', sys.options.forgetRounds === true ? 4 : 0],
      // and outside campaigns of forgotten rounds on five nodes
      ['shrink-and-forget', sys.options.forgetRounds === true && sys.nodes.length === 5 ? 3 : 0],
      // the same
      ['kill-two-at-vote', sys.options.forgetRounds === true && sys.nodes.length === 5 ? 3 : 0],
      // and outside campaigns of faults in the middle of a protocol step
      ['split-at-confchg-write', midStep && sys.disks !== undefined ? 3 : 0],
      ['split-at-proof', midStep ? 3 : 0],
      ['kill-during-join', midStep ? 3 : 0],
    ];
    const total = weights.reduce((s, [, w]) => s + w, 0);
    let r = this.#rng.next() * total;
    for (const [f, w] of weights) {
      r -= w;
      if (r < 0) return f;
    }
    return 'heal';
  }

  /**
   * Arm a fault for the instant a replica's next frame (a command, most of the time) is in
   * flight: accepted by the engine, not yet delivered. Returns what was armed; the run then
   * starts a client operation and lets the cluster run until the trap springs.
   */
  armInFlight(): InFlightFault {
    const sys = this.#system;
    const fault = this.#pick(IN_FLIGHT_FAULTS);
    this.counts.set(`in-flight:${fault}`, (this.counts.get(`in-flight:${fault}`) ?? 0) + 1);
    const commandsOnly = this.#rng.chance(0.7);
    const split = this.#split(false);
    // drawn last, and only when kills lose writes: the other campaigns' draws stay as they were
    const acksOnly = sys.options.loseWrites === true && this.#rng.chance(0.5);
    sys.armTrap(
      (_s, frame) =>
        acksOnly
          ? frameKind(frame) === Kind.ack
          : !commandsOnly || frameKind(frame) === Kind.command,
      (s, frame) => {
        recordInFlight(sys, fault, s, frame);
        const n = sys.nodes.find((x) => x.id === s.node)!;
        switch (fault) {
          case 'isolate-sender':
            sys.partition([s.node]);
            return;
          case 'split':
            sys.partition(...split);
            return;
          case 'kill-sender':
            sys.kill(n, s.kind);
            return;
          case 'pause-sender':
            sys.pause(n, s.kind);
            return;
          case 'kill-sender-node':
            sys.killNode(n);
            return;
        }
      },
    );
    return fault;
  }

  /** Nodes whose next lock replica would still run the old format (upgrade campaigns). */
  #behind(): SimNode[] {
    const sys = this.#system;
    if (sys.options.upgrade !== true) return [];
    return sys.nodes.filter((n) => n.locksFormat !== LOCKS_STATE_FORMAT);
  }

  /**
   * Move node `n`'s lock replica to the new format: restarted gracefully (it retires from `Q`
   * first), killed and restarted, killed and left down (a later `restart` brings the new
   * format), killed and restarted on a new disk (no state, a new replica id, every other
   * member foreign to it), or staged: it keeps running the old format until whatever kills it
   * next (a crash, its node's, an in-flight kill, several at once).
   */
  async #upgrade(n: SimNode): Promise<void> {
    const sys = this.#system;
    n.locksFormat = LOCKS_STATE_FORMAT;
    const how = this.#pick(['graceful', 'kill', 'kill-later', 'staged', 'fresh'] as const);
    sys.options.faults.event('upgrade', { node: n.id, how });
    const s = n.locks;
    if (how === 'staged' || s === undefined || !s.alive) return;
    if (how === 'graceful') await sys.stopGracefully(n, 'locks');
    else await sys.crash(n, 'locks');
    if (how === 'fresh') await sys.wipe(n, 'locks');
    if (how !== 'kill-later') await sys.open(n, 'locks');
  }

  /**
   * The end of a rolling upgrade: every node still behind (or running the old format, staged)
   * is moved to the new one, gracefully or not, one at a time, the cluster running between.
   */
  async finishUpgrade(): Promise<void> {
    const sys = this.#system;
    if (sys.options.upgrade !== true) return;
    for (const n of sys.nodes) {
      const s = n.locks;
      if (
        n.locksFormat === LOCKS_STATE_FORMAT &&
        (s === undefined || s.format === LOCKS_STATE_FORMAT)
      )
        continue;
      n.locksFormat = LOCKS_STATE_FORMAT;
      sys.options.faults.event('upgrade', { node: n.id, how: 'finish' });
      if (s === undefined || !s.alive) continue; // healing opens it in the new format
      if (this.#rng.chance(0.5)) await sys.stopGracefully(n, 'locks');
      else await sys.crash(n, 'locks');
      await sys.open(n, 'locks');
      await sys.cluster.advance(this.#rng.int(500));
    }
  }

  /** A random split: one node alone (`isolate`), or a minority against a majority. */
  #split(alone: boolean): number[][] {
    const ids = [...this.#system.cluster.nodeIds];
    for (let i = ids.length - 1; i > 0; i--) {
      const j = this.#rng.int(i + 1);
      [ids[i], ids[j]] = [ids[j]!, ids[i]!];
    }
    const k = alone ? 1 : Math.floor(ids.length / 2);
    return [ids.slice(0, k), ids.slice(k)];
  }

  /** Apply `fault`. */
  async apply(fault: Fault): Promise<void> {
    const sys = this.#system;
    this.counts.set(fault, (this.counts.get(fault) ?? 0) + 1);
    const node = (): SimNode => this.#pick(sys.nodes);
    switch (fault) {
      case 'isolate':
        sys.partition(...this.#split(true));
        return;
      case 'split':
        sys.partition(...this.#split(false));
        return;
      case 'heal':
        sys.heal();
        return;
      case 'crash':
        await sys.crash(node(), this.#kind());
        return;
      case 'restart': {
        const dead = sys.nodes.flatMap((n) =>
          sys.cluster.isUp(n.id)
            ? (['kv', 'locks'] as const)
                .filter((k) => sys.service(n, k)?.alive === false)
                .map((k) => [n, k] as const)
            : [],
        );
        if (dead.length === 0) return;
        const [n, k] = this.#pick(dead);
        await sys.open(n, k);
        return;
      }
      case 'crash-restart': {
        const n = node();
        if (!sys.cluster.isUp(n.id)) return;
        const k = this.#kind();
        await sys.crash(n, k);
        await sys.open(n, k);
        return;
      }
      case 'crash-node':
        await sys.crashNode(node());
        return;
      case 'restart-node': {
        const down = sys.nodes.filter((n) => !sys.cluster.isUp(n.id));
        if (down.length === 0) return;
        const n = this.#pick(down);
        sys.restartNode(n);
        await sys.cluster.runUntilIdle();
        for (const k of ['kv', 'locks'] as const) await sys.open(n, k);
        return;
      }
      case 'pause':
        sys.pause(node(), this.#kind());
        return;
      case 'resume': {
        for (const n of sys.nodes) {
          for (const k of ['kv', 'locks'] as const) {
            if (sys.service(n, k)?.paused === true) {
              sys.resume(n, k);
              return;
            }
          }
        }
        return;
      }
      case 'pause-across-sync': {
        // stop one process, make the others run a sync round (a node cut off, or a replica
        // killed), let them finish it, then continue the stopped one
        const n = node();
        const k = this.#kind();
        sys.pause(n, k);
        const other = this.#pick(sys.nodes.filter((x) => x !== n));
        if (this.#rng.chance(0.5)) {
          sys.partition([other.id]);
          await sys.cluster.advance(50 + this.#rng.int(500));
          sys.heal();
        } else {
          await sys.crash(other, k);
          await sys.cluster.advance(50 + this.#rng.int(500));
          await sys.open(other, k);
        }
        await sys.cluster.advance(this.#rng.int(300));
        sys.resume(n, k);
        return;
      }
      case 'crash-many': {
        // several replicas of one kind killed at the same instant (a majority, sometimes),
        // restarted from their data directories at once or later
        const k = this.#kind();
        const live = sys.nodes.filter((n) => sys.service(n, k)?.alive === true);
        const count = Math.min(live.length, 2 + this.#rng.int(sys.nodes.length === 5 ? 2 : 1));
        const victims: SimNode[] = [];
        while (victims.length < count) {
          const v = this.#pick(live);
          if (!victims.includes(v)) victims.push(v);
        }
        for (const v of victims) sys.kill(v, k);
        await sys.reap();
        if (this.#rng.chance(0.5)) {
          await sys.cluster.advance(this.#rng.int(500));
          for (const v of victims) await sys.open(v, k);
        }
        return;
      }
      case 'kill-at-round-end':
      case 'kill-at-vote':
      case 'kill-two-at-vote':
        await killInRound(sys, this.#draws, fault);
        return;
      case 'shrink-and-forget':
        await shrinkAndForget(sys, this.#draws);
        return;
      case 'split-at-confchg-write':
      case 'split-at-proof':
      case 'kill-during-join':
        await applyMidStep(sys, this.#draws, fault, (f) => this.#count(`sprang:${f}`));
        return;
      case 'upgrade': {
        const behind = this.#behind();
        if (behind.length > 0) await this.#upgrade(this.#pick(behind));
        return;
      }
      case 'partition-during-transfer': {
        // a replica comes back from its data directory and is cut off (or its peers split)
        // while the sync round that sends it the state is in flight
        const n = node();
        if (!sys.cluster.isUp(n.id)) return;
        const k = this.#kind();
        await sys.crash(n, k);
        await sys.cluster.advance(this.#rng.int(300));
        const opened = sys.open(n, k);
        await opened;
        await turns(sys.cluster, this.#rng.int(6));
        if (this.#rng.chance(0.5)) sys.partition([n.id]);
        else sys.partition(...this.#split(false));
        return;
      }
    }
  }
}
