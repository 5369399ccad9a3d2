/**
 * A single replica of a MachineDefinition, applied as the replicated state machine applies it
 * (commands through `reduce` when the definition has one, else `apply` under immer; membership
 * and ticks under immer): for testing the lock machine as pure functions. `via: 'immer'` runs
 * commands through `apply` even when there is a `reduce` (the reference).
 */
import { produce, type Draft } from 'immer';
import type { Incarnation, MachineDefinition } from '@cpgkit/statemachine';

export type Outcome<R> = { ok: true; result: R } | { ok: false; error: Error };

export class PureLog<S, C, R> {
  state: S;
  index = 0n;
  time = 0;
  readonly epoch = 1;
  constructor(
    readonly def: MachineDefinition<S, C, R>,
    readonly via: 'runtime' | 'immer' = 'runtime',
  ) {
    const init = def.initial;
    this.state = typeof init === 'function' ? (init as () => S)() : init;
  }

  /** Move replicated time forward (never back). */
  at(time: number): this {
    this.time = Math.max(this.time, time);
    return this;
  }

  apply(sender: Incarnation, command: C, commandId = `c${this.index}`): Outcome<R> {
    this.index += 1n;
    const ctx = { sender, commandId, time: this.time, index: this.index, epoch: this.epoch };
    if (this.def.isCommand && !this.def.isCommand(command))
      return { ok: false, error: new Error('not a command') };
    let result: R | undefined;
    try {
      if (this.def.reduce !== undefined && this.via === 'runtime') {
        const next = this.def.reduce(this.state, command, ctx, undefined);
        this.state = next.state;
        result = next.result;
      } else {
        this.state = produce(this.state, (d: Draft<S>) => {
          result = this.def.apply(d, command, ctx);
        });
      }
    } catch (error) {
      return { ok: false, error: error as Error };
    }
    return { ok: true, result: result as R };
  }

  /** Apply `apply` and throw if it failed. */
  must(sender: Incarnation, command: C): R {
    const o = this.apply(sender, command);
    if (!o.ok) throw o.error;
    return o.result;
  }

  membership(members: readonly Incarnation[], left: readonly Incarnation[]): void {
    this.index += 1n;
    const change = { members, left, time: this.time, index: this.index, epoch: this.epoch };
    this.state = produce(this.state, (d: Draft<S>) => this.def.onMembership?.(d, change));
  }

  tick(time = this.time): void {
    this.at(time);
    this.index += 1n;
    const ctx = { time: this.time, index: this.index, epoch: this.epoch };
    this.state = produce(this.state, (d: Draft<S>) => this.def.onTick?.(d, ctx));
  }

  /** Tick if the machine asks for one at or before `time` (as the runtime does). */
  tickIfDue(time: number): boolean {
    const due = this.def.nextDeadline?.(this.state);
    if (due === undefined || due > time) return false;
    this.tick(Math.max(due, this.time));
    return true;
  }
}

export function inc(nodeid: number, pid: number, incarnation: string): Incarnation {
  return { nodeid, pid, incarnation };
}
