/**
 * A deployment pipeline as an xstate v5 machine: a plain, pure machine with nothing
 * cpgkit-specific in it. The example replicates it across nodes (see `main.ts`).
 *
 * ```
 * idle ──DEPLOY──▶ building ──BUILT──▶ canary ──(after CANARY_MS)──▶ live
 *                     │                  │                            │
 *                     └──FAILED──▶ failed └──ROLLBACK──▶ rolledBack    └──DEPLOY──▶ building
 * ```
 *
 * The `after` transition out of `canary` is a delayed transition: replicated, it fires on
 * every node at the same point of the agreed log, driven by replicated time, never by a
 * node's own clock.
 * @module
 */
import { assertEvent, assign, setup } from 'xstate';

/** How long a release soaks in canary before it is promoted automatically (ms). */
export const CANARY_MS = 5_000;

/** The pipeline's context: what is being deployed and what happened to it. */
export interface PipelineContext {
  /** The version in flight (or live). */
  readonly version: string | null;
  /** The version that was live before, to roll back to. */
  readonly previous: string | null;
  /** Every step, in order: identical on every node. */
  readonly history: readonly string[];
}

/** The events the pipeline takes. Only these go through the group. */
export type PipelineEvent =
  | { readonly type: 'DEPLOY'; readonly version: string }
  | { readonly type: 'BUILT' }
  | { readonly type: 'FAILED'; readonly reason: string }
  | { readonly type: 'ROLLBACK' };

/**
 * The deployment pipeline machine.
 *
 * Actions: `announce` is a side effect (logging, paging, calling a deploy API). Replicated,
 * it must run on one node only: the example runs it on the elected executor.
 */
export const pipeline = setup({
  types: {
    context: {} as PipelineContext,
    events: {} as PipelineEvent,
  },
  delays: {
    canary: CANARY_MS,
  },
  actions: {
    // a side effect: replaced by the example with one that runs only on the executor
    announce: (_, _params: { readonly text: string }) => {},
    // a new deploy; `rollbackTo` says which version a rollback returns to: the one live now,
    // or (after a failed build) the one that was live before it
    startDeploy: assign(
      ({ context, event }, params: { readonly rollbackTo: 'current' | 'previous' }) => {
        assertEvent(event, 'DEPLOY');
        return {
          version: event.version,
          previous: params.rollbackTo === 'current' ? context.version : context.previous,
          history: [...context.history, `deploy ${event.version}`],
        };
      },
    ),
  },
}).createMachine({
  id: 'pipeline',
  initial: 'idle',
  context: { version: null, previous: null, history: [] },
  states: {
    idle: {
      on: {
        DEPLOY: {
          target: 'building',
          actions: { type: 'startDeploy', params: { rollbackTo: 'current' } },
        },
      },
    },
    building: {
      on: {
        BUILT: {
          target: 'canary',
          actions: [
            assign(({ context }) => ({
              history: [...context.history, `canary ${context.version}`],
            })),
            {
              type: 'announce',
              params: ({ context }) => ({ text: `${context.version} in canary` }),
            },
          ],
        },
        FAILED: {
          target: 'failed',
          actions: assign(({ context, event }) => ({
            history: [...context.history, `failed: ${event.reason}`],
          })),
        },
      },
    },
    canary: {
      after: {
        canary: {
          target: 'live',
          actions: [
            assign(({ context }) => ({ history: [...context.history, `live ${context.version}`] })),
            { type: 'announce', params: ({ context }) => ({ text: `${context.version} is live` }) },
          ],
        },
      },
      on: {
        ROLLBACK: {
          target: 'rolledBack',
          actions: assign(({ context }) => ({
            version: context.previous,
            history: [...context.history, `rollback to ${context.previous ?? 'nothing'}`],
          })),
        },
      },
    },
    live: {
      on: {
        DEPLOY: {
          target: 'building',
          actions: { type: 'startDeploy', params: { rollbackTo: 'current' } },
        },
      },
    },
    rolledBack: {
      on: {
        DEPLOY: {
          target: 'building',
          actions: { type: 'startDeploy', params: { rollbackTo: 'current' } },
        },
      },
    },
    failed: {
      on: {
        DEPLOY: {
          target: 'building',
          actions: { type: 'startDeploy', params: { rollbackTo: 'previous' } },
        },
      },
    },
  },
});
