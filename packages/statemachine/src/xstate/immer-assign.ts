/**
 * `immerAssign`: xstate's `assign` with an immer recipe (`@xstate/immer` is stale, for xstate 4).
 * @module
 */
import { produce, type Draft } from 'immer';
import { assign, type EventObject, type MachineContext } from 'xstate';

/**
 * An xstate `assign` action whose recipe mutates an immer draft of the context.
 *
 * @example
 * ```ts
 * const add = immerAssign<{ items: string[] }, { type: 'add'; item: string }>((ctx, { event }) => {
 *   ctx.items.push(event.item);
 * });
 * createMachine({ context: { items: [] }, on: { add: { actions: add } } });
 * ```
 * @param recipe - mutates `draft`; gets the event like an assign function does
 */
export function immerAssign<
  TContext extends MachineContext,
  TEvent extends EventObject = EventObject,
>(
  recipe: (
    draft: Draft<TContext>,
    args: { readonly context: TContext; readonly event: TEvent },
  ) => void,
) {
  return assign<TContext, TEvent, undefined, EventObject, never>(({ context, event }) =>
    produce(context, (draft) => recipe(draft, { context, event })),
  );
}
