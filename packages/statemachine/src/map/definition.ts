/**
 * The config store as a `MachineDefinition`: its command check and the reducers it applies
 * with (`reduceTxn`, reduce-txn.ts; `applyTxn` under immer, state.ts).
 * @module
 */
import type { Draft, Patch } from 'immer';
import type { ApplyContext, MachineDefinition } from '../types.js';
import { reduceTxn } from './reduce-txn.js';
import {
  DEFAULT_LIMITS,
  applyTxn,
  emptyMap,
  type MapCommand,
  type MapLimits,
  type MapResult,
  type MapState,
} from './state.js';

function isJsonish(v: unknown): boolean {
  const t = typeof v;
  return t === 'string' || t === 'number' || t === 'boolean' || t === 'object';
}

/** Whether `c` looks like a `MapCommand` (malformed commands count as failed). */
export function isMapCommand(c: unknown): c is MapCommand {
  if (typeof c !== 'object' || c === null) return false;
  const m = c as { compares?: unknown; ops?: unknown; barrier?: unknown };
  if (!Array.isArray(m.compares) || !Array.isArray(m.ops)) return false;
  if (m.barrier !== undefined && typeof m.barrier !== 'string') return false;
  // index loops: this runs for every command on every replica, and `for...of` here kept its
  // iterators (about 70 bytes per command) where V8 did not inline it
  const ops = m.ops as unknown[];
  for (let i = 0; i < ops.length; i++) {
    const op = ops[i];
    if (typeof op !== 'object' || op === null) return false;
    const o = op as { op?: unknown; key?: unknown; value?: unknown };
    if (typeof o.key !== 'string') return false;
    if (o.op === 'set' ? !isJsonish(o.value) : o.op !== 'delete') return false;
  }
  const compares = m.compares as unknown[];
  for (let i = 0; i < compares.length; i++) {
    const cmp = compares[i];
    if (
      typeof cmp !== 'object' ||
      cmp === null ||
      typeof (cmp as { key?: unknown }).key !== 'string'
    )
      return false;
  }
  return true;
}

/** Whether `path` is a leaf's (`tree`, then the three digits of `pathOf`): read as a `MapLeaf`. */
function isLeafPath(path: readonly (string | number)[]): boolean {
  return path.length === 4 && path[0] === 'tree';
}

/**
 * The store as a `MachineDefinition`.
 * @param name - the machine name on the wire and on disk
 * @param limits - size limits (every member must use the same)
 */
export function mapDefinition(
  name: string,
  limits: MapLimits = DEFAULT_LIMITS,
): MachineDefinition<MapState, MapCommand, MapResult> {
  return {
    name,
    initial: emptyMap,
    apply: (draft: Draft<MapState>, cmd: MapCommand, _ctx: ApplyContext) =>
      applyTxn(draft, cmd, limits),
    reduce: (state: MapState, cmd: MapCommand, _ctx: ApplyContext, patches?: Patch[]) =>
      reduceTxn(state, cmd, limits, patches),
    isCommand: isMapCommand,
    snapshotRecord: isLeafPath,
  };
}
