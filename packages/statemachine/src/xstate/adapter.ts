/**
 * Replicate an xstate v5 machine: EVENTS go through the group; every member applies xstate's
 * pure `transition(machine, snapshot, event)` on delivery. Delayed events (`after`, delayed
 * `raise`) become deadlines in replicated time, fired by replicated ticks, never by a local
 * clock. Actions run where the caller says: on every member, or only on the executor.
 * @module
 */
import { castDraft, original, type Draft } from 'immer';
import {
  initialTransition,
  transition,
  type AnyStateMachine,
  type EventFromLogic,
  type ExecutableActionObject,
  type InputFrom,
  type SnapshotFrom,
} from 'xstate';
import { rethrowLater, type GroupTransport, type WaitOptions } from '@cpgkit/core';
import { ReplicatedStateMachine } from '../machine.js';
import type { OpenOptions } from '../open-options.js';
import type { ApplyContext, MachineDefinition, StateChange, TickContext } from '../types.js';

/** A pending delayed event, in replicated time. */
export interface XTimer {
  /** xstate's send id (`cancel` removes timers by it). */
  readonly id: string;
  /** Replicated time it fires at; -1 until anchored (delays of the initial state). */
  readonly at: number;
  readonly delay: number;
  /** Order among timers due at the same time. */
  readonly seq: number;
  readonly event: { readonly type: string };
}

/** The replicated state of an xstate machine. */
export interface XState {
  /** `machine.getPersistedSnapshot(snapshot)`: plain JSON. */
  readonly snapshot: unknown;
  readonly timers: readonly XTimer[];
  readonly seq: number;
}

/** An action returned by `transition`, with where it came from. */
export interface XAction {
  readonly action: ExecutableActionObject;
  /** The log index of the event (or tick) that produced it. */
  readonly index: bigint;
}

/** A `MachineDefinition` for an xstate machine, plus the actions the last applies produced. */
export interface XStateDefinition<TMachine extends AnyStateMachine> extends MachineDefinition<
  XState,
  EventFromLogic<TMachine>,
  unknown
> {
  /** Take the actions produced since the last call (on this member). */
  takeActions(): XAction[];
  /** The live xstate snapshot of a replicated state. */
  resolve(state: XState): SnapshotFrom<TMachine>;
}

/**
 * Build a `MachineDefinition` from an xstate v5 machine.
 * @param machine - the xstate machine (its implementations must be deterministic)
 * @param options - `name` on the wire (default: the machine id) and the machine's `input`
 */
export function xstateDefinition<TMachine extends AnyStateMachine>(
  machine: TMachine,
  options: { name?: string; input?: InputFrom<TMachine> } = {},
): XStateDefinition<TMachine> {
  let captured: XAction[] = [];
  const cache = new WeakMap<object, SnapshotFrom<TMachine>>();
  const resolve = (state: XState): SnapshotFrom<TMachine> => {
    const key = state.snapshot as object;
    const hit = cache.get(key);
    if (hit !== undefined) return hit;
    const s = machine.resolveState(
      structuredClone(state.snapshot) as never,
    ) as SnapshotFrom<TMachine>;
    cache.set(key, s);
    return s;
  };
  /** Run one event through `transition`; returns the new timers list. */
  const step = (
    draft: Draft<XState>,
    base: XState,
    event: { type: string },
    time: number,
    index: bigint,
  ): XState => {
    const [next, actions] = transition(machine, resolve(base), event as EventFromLogic<TMachine>);
    let timers = [...base.timers];
    let seq = base.seq;
    for (const a of actions as ExecutableActionObject[]) {
      const params = a.params as
        { delay?: number; id?: string; event?: { type: string }; sendId?: string } | undefined;
      if (a.type === 'xstate.raise' && params?.delay !== undefined && params.event !== undefined) {
        const id = params.id ?? `timer.${seq}`;
        timers = timers.filter((t) => t.id !== id);
        timers.push({
          id,
          at: time + params.delay,
          delay: params.delay,
          seq: seq++,
          event: params.event,
        });
      } else if (a.type === 'xstate.cancel' && params?.sendId !== undefined) {
        timers = timers.filter((t) => t.id !== params.sendId);
      } else {
        captured.push({ action: a, index });
      }
    }
    const persisted = machine.getPersistedSnapshot(next) as unknown;
    const out: XState = { snapshot: persisted, timers, seq };
    cache.set(persisted as object, next);
    draft.snapshot = castDraft(persisted);
    draft.timers = castDraft(timers);
    draft.seq = seq;
    return out;
  };
  return {
    name: options.name ?? machine.id,
    initial: (): XState => {
      const [snap, actions] = initialTransition(machine, options.input as never);
      const timers: XTimer[] = [];
      let seq = 0;
      for (const a of actions as ExecutableActionObject[]) {
        const params = a.params as
          { delay?: number; id?: string; event?: { type: string } } | undefined;
        if (
          a.type === 'xstate.raise' &&
          params?.delay !== undefined &&
          params.event !== undefined
        ) {
          timers.push({
            id: params.id ?? `timer.${seq}`,
            at: -1,
            delay: params.delay,
            seq: seq++,
            event: params.event,
          });
        }
      }
      return { snapshot: machine.getPersistedSnapshot(snap), timers, seq };
    },
    apply(draft: Draft<XState>, event: EventFromLogic<TMachine>, ctx: ApplyContext): unknown {
      const base = original<XState>(draft);
      const out = step(draft, base, event, ctx.time, ctx.index);
      return out.snapshot;
    },
    onTick(draft: Draft<XState>, ctx: TickContext): void {
      let state = original<XState>(draft);
      // anchor the initial state's delays at the first tick
      if (state.timers.some((t) => t.at < 0)) {
        state = {
          ...state,
          timers: state.timers.map((t) => (t.at < 0 ? { ...t, at: ctx.time + t.delay } : t)),
        };
        draft.timers = castDraft(state.timers);
      }
      for (;;) {
        const due = state.timers
          .filter((t) => t.at <= ctx.time)
          .sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
        if (due === undefined) return;
        state = { ...state, timers: state.timers.filter((t) => t !== due) };
        state = step(draft, state, due.event, ctx.time, ctx.index);
      }
    },
    nextDeadline(state: XState): number | undefined {
      let min: number | undefined;
      for (const t of state.timers) {
        const at = t.at < 0 ? 0 : t.at;
        if (min === undefined || at < min) min = at;
      }
      return min;
    },
    isCommand(c: unknown): c is EventFromLogic<TMachine> {
      return (
        typeof c === 'object' && c !== null && typeof (c as { type?: unknown }).type === 'string'
      );
    },
    takeActions(): XAction[] {
      const out = captured;
      captured = [];
      return out;
    },
    resolve,
  };
}

/** Options for `replicateMachine`. */
export interface ReplicateOptions<TMachine extends AnyStateMachine> extends OpenOptions {
  /** Name on the wire (default: the machine id). */
  readonly name?: string;
  readonly input?: InputFrom<TMachine>;
  /**
   * Where actions with implementations run: `'all'` members, only the `'executor'` (the
   * lowest member of the quorate component, which also drives time), or `'none'`.
   * @defaultValue 'executor'
   */
  readonly execute?: 'all' | 'executor' | 'none';
}

/** A replicated xstate actor. */
export class ReplicatedActor<TMachine extends AnyStateMachine> implements AsyncDisposable {
  private constructor(
    /** The underlying replicated state machine. */
    readonly machine: ReplicatedStateMachine<XState, EventFromLogic<TMachine>, unknown>,
    private readonly def: XStateDefinition<TMachine>,
  ) {}

  /** @internal */
  static create<TMachine extends AnyStateMachine>(
    machine: ReplicatedStateMachine<XState, EventFromLogic<TMachine>, unknown>,
    def: XStateDefinition<TMachine>,
    execute: 'all' | 'executor' | 'none',
  ): ReplicatedActor<TMachine> {
    const actor = new ReplicatedActor(machine, def);
    machine.subscribe((c: StateChange<XState, EventFromLogic<TMachine>, unknown>) => {
      const actions = def.takeActions();
      if (c.kind === 'sync' || execute === 'none') return;
      if (execute === 'executor' && !machine.isExecutor) return;
      for (const { action } of actions) {
        if (action.exec === undefined) continue;
        try {
          action.exec(action.info, action.params);
        } catch (error) {
          // an action's failure is local: it does not change the replicated state, and it is
          // not hidden either (cpgkit's policy for user callbacks: rethrown later, uncaught)
          rethrowLater(error);
        }
      }
    });
    return actor;
  }

  /** The live xstate snapshot (`value`, `context`, `matches`...). */
  get snapshot(): SnapshotFrom<TMachine> {
    return this.def.resolve(this.machine.state);
  }
  /** Pending delayed events, in replicated time. */
  get timers(): readonly XTimer[] {
    return this.machine.state.timers;
  }
  /** Send an event through the group; resolves once applied here (with the new persisted snapshot). */
  send(event: EventFromLogic<TMachine>, options?: WaitOptions): Promise<unknown> {
    return this.machine.dispatch(event, options);
  }
  /** Resolves once synced and quorate. */
  ready(options?: WaitOptions): Promise<void> {
    return this.machine.ready(options);
  }
  /** Leave and stop. */
  close(): Promise<void> {
    return this.machine.close();
  }
  /** Same as `close()`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * Replicate an xstate v5 machine over `group` (unjoined).
 *
 * @example
 * ```ts
 * const actor = await replicateMachine(trafficLight, cluster.member(1), { execute: 'executor' });
 * await actor.ready();
 * await actor.send({ type: 'NEXT' });
 * actor.snapshot.value; // the same on every member
 * ```
 */
export async function replicateMachine<TMachine extends AnyStateMachine>(
  machine: TMachine,
  group: GroupTransport,
  options: ReplicateOptions<TMachine> = {},
): Promise<ReplicatedActor<TMachine>> {
  const def = xstateDefinition(machine, { name: options.name, input: options.input });
  const sm = await ReplicatedStateMachine.open(group, def, options);
  return ReplicatedActor.create(sm, def, options.execute ?? 'executor');
}
