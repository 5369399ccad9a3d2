/**
 * @cpgkit/statemachine/xstate: replicate an xstate v5 machine (`replicateMachine`), and
 * `immerAssign`. A subpath of its own so that only those who use it load xstate (a peer
 * dependency: install `xstate` next to `@cpgkit/statemachine`); `ReplicatedMap` and the
 * reducer-based machines of the main entry never do.
 *
 * @example
 * ```ts
 * import { createMachine } from 'xstate';
 * import { replicateMachine } from '@cpgkit/statemachine/xstate';
 * const actor = await replicateMachine(createMachine({ ... }), transport, { groupName: 'jobs' });
 * await actor.send({ type: 'START' });
 * ```
 * @module
 */
export {
  xstateDefinition,
  replicateMachine,
  ReplicatedActor,
  type XState,
  type XTimer,
  type XAction,
  type XStateDefinition,
  type ReplicateOptions,
} from './xstate/adapter.js';
export { immerAssign } from './xstate/immer-assign.js';
