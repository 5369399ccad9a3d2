/**
 * Applying one entry of the agreed stream to an image: pure functions of (image, entry,
 * definition), testable like xstate's `transition`. The machine decides whether an entry is
 * applied at all (quorum, sync) and what follows (acks, notifications, persistence).
 * @module
 */
import { isDraft, current, type Draft, type Patch } from 'immer';
import { produceState } from './immer.js';
import type { Image } from './image.js';
import type {
  ApplyContext,
  Incarnation,
  MachineDefinition,
  MembershipContext,
  StateChange,
  TickContext,
} from './types.js';
import { MAX_TIME } from './wire.js';

/** What applying a command gave: the next image, the change to notify, the outcome. */
export interface Applied<S, C, R> {
  readonly image: Image<S>;
  readonly change: StateChange<S, C, R>;
  /** The command's result, or why it failed (the state is then unchanged). */
  readonly outcome:
    | { readonly ok: true; readonly result: R }
    | { readonly ok: false; readonly name: string; readonly message: string };
}

/** A command as delivered: who sent it, its id, the sender's clock. */
export interface CommandEntry<C> {
  readonly command: C;
  readonly sender: Incarnation;
  readonly commandId: string;
  /** The sender's wall time when it sent the command. */
  readonly t: number;
}

/**
 * Apply a command at the next index: `def.reduce` when the definition has one, else `apply`
 * through immer. A throw (or `isCommand` saying no) fails the command and keeps the state.
 * @param patches - when given (the replica persists), the change's patches are pushed onto it
 */
export function applyCommand<S, C, R>(
  image: Image<S>,
  entry: CommandEntry<C>,
  def: MachineDefinition<S, C, R>,
  patches: Patch[] | undefined,
): Applied<S, C, R> {
  const index = image.index + 1n;
  const time = Math.max(image.time, entry.t);
  const ctx: ApplyContext = {
    sender: entry.sender,
    commandId: entry.commandId,
    time,
    index,
    epoch: image.epoch,
  };
  const command = entry.command;
  let state = image.state;
  let outcome: Applied<S, C, R>['outcome'];
  if (def.isCommand !== undefined && !def.isCommand(command)) {
    outcome = {
      ok: false,
      name: 'InvalidCommandError',
      message: 'the command was rejected by isCommand',
    };
  } else {
    const mark = patches?.length ?? 0;
    try {
      if (def.reduce !== undefined) {
        const next = def.reduce(state, command, ctx, patches);
        state = next.state;
        outcome = { ok: true, result: next.result };
      } else {
        let result: R | undefined;
        state = produceState(
          state,
          (draft: Draft<S>) => {
            const r: unknown = def.apply(draft, command, ctx);
            result = (isDraft(r) ? current(r as object) : r) as R;
          },
          patches,
        );
        outcome = { ok: true, result: result as R };
      }
    } catch (e) {
      const err = e instanceof Error ? e : new Error(String(e));
      if (patches !== undefined) patches.length = mark;
      state = image.state;
      outcome = { ok: false, name: err.name, message: err.message };
    }
  }
  const change: StateChange<S, C, R> = outcome.ok
    ? { kind: 'command', state, command, ok: true, result: outcome.result, ctx }
    : {
        kind: 'command',
        state,
        command,
        ok: false,
        error: `${outcome.name}: ${outcome.message}`,
        ctx,
      };
  return { image: nextImage(image, index, time, state), change, outcome };
}

/**
 * `{ ...image, index, time, state }` as a literal: one shape for every image, built without
 * enumerating the old one (this runs for every entry).
 */
function nextImage<S>(image: Image<S>, index: bigint, time: number, state: S): Image<S> {
  return {
    epoch: image.epoch,
    index,
    time,
    members: image.members,
    knownNodes: image.knownNodes,
    replicas: image.replicas,
    gone: image.gone,
    settled: image.settled,
    provenReplicas: image.provenReplicas,
    provenGone: image.provenGone,
    state,
  };
}

/**
 * Apply a replicated timer tick at the next index. A throw from `onTick` keeps the state
 * (reported through `log`).
 */
export function applyTick<S, C, R>(
  image: Image<S>,
  t: number,
  def: MachineDefinition<S, C, R>,
  patches: Patch[] | undefined,
  log: (line: string) => void,
): { image: Image<S>; change: StateChange<S, C, R> } {
  const index = image.index + 1n;
  const time = Math.max(image.time, t);
  const ctx: TickContext = { time, index, epoch: image.epoch };
  let state = image.state;
  if (def.onTick !== undefined) {
    const onTick = def.onTick.bind(def);
    const mark = patches?.length ?? 0;
    try {
      state = produceState(state, (draft: Draft<S>) => onTick(draft, ctx), patches);
    } catch (e) {
      if (patches !== undefined) patches.length = mark;
      log(`onTick threw (state unchanged): ${String(e)}`);
    }
  }
  return { image: nextImage(image, index, time, state), change: { kind: 'tick', state, ctx } };
}

/**
 * The members of a quorate round's decision replace the image's members: when some left or
 * joined, `onMembership` runs at the next index (a throw keeps the state). `undefined` when
 * nobody left or joined.
 * @param roundTime - what the round's members' clocks said (the last entry may be long ago)
 */
export function applyMembership<S, C, R>(
  image: Image<S>,
  now: readonly Incarnation[],
  epoch: number,
  roundTime: number,
  def: MachineDefinition<S, C, R>,
  patches: Patch[] | undefined,
  log: (line: string) => void,
): { image: Image<S>; change: StateChange<S, C, R> } | undefined {
  const nowIds = new Set(now.map((m) => m.incarnation));
  const before = image.members;
  const beforeIds = new Set(before.map((m) => m.incarnation));
  const left = before.filter((m) => !nowIds.has(m.incarnation));
  const joined = now.filter((m) => !beforeIds.has(m.incarnation));
  if (left.length === 0 && joined.length === 0) return undefined;
  const index = image.index + 1n;
  const time = Math.max(image.time, Math.min(roundTime, MAX_TIME));
  const change: MembershipContext = { members: now, left, time, index, epoch };
  let state = image.state;
  if (def.onMembership !== undefined) {
    const onMembership = def.onMembership.bind(def);
    const mark = patches?.length ?? 0;
    try {
      state = produceState(state, (draft: Draft<S>) => onMembership(draft, change), patches);
    } catch (e) {
      if (patches !== undefined) patches.length = mark;
      log(`onMembership threw (ignored, state unchanged): ${String(e)}`);
    }
  }
  return {
    image: { ...image, index, time, members: now, state },
    change: { kind: 'membership', state, change },
  };
}
