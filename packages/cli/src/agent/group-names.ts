/**
 * The one rule for the CPG groups of a cpgkit group G. Two state machines with different names
 * in one CPG group see each other's frames as foreign and each other as silent members that hold
 * up sync rounds, so each machine gets a group of its own, derived from G:
 *
 * | What | CPG group |
 * | --- | --- |
 * | the config store (`cpgkit.kv`) | `G` |
 * | locks and elections (`cpgkit.locks`) | `G.locks` |
 * | the agents' status channel (`cpgkit serve` answers `cpgkit status`) | `G.agents` |
 *
 * G itself may take up to 121 bytes (corosync takes 128, `.agents` adds 7).
 * @module
 */
import { encodeGroupName, MAX_GROUP_NAME_BYTES } from '@cpgkit/core';
import { UsageError } from '../util.js';

/** The longest G, in bytes of UTF-8, so that every derived name fits. */
export const MAX_BASE_GROUP_BYTES = MAX_GROUP_NAME_BYTES - '.agents'.length;

/** The CPG groups of the cpgkit group `base`. */
export interface GroupNames {
  readonly base: string;
  /** The config store's group: `G`. */
  readonly store: string;
  /** The lock and election machine's group: `G.locks`. */
  readonly locks: string;
  /** The agents' status channel: `G.agents`. */
  readonly agents: string;
}

/**
 * The CPG group names of `base`.
 * @throws UsageError when `base` is empty or too long for the derived names
 */
export function groupNames(base: string): GroupNames {
  const bytes = new TextEncoder().encode(base).length;
  if (bytes === 0) throw new UsageError('--group must not be empty');
  if (bytes > MAX_BASE_GROUP_BYTES)
    throw new UsageError(
      `--group is ${bytes} bytes; at most ${MAX_BASE_GROUP_BYTES} (corosync takes ${MAX_GROUP_NAME_BYTES}, and cpgkit adds '.agents')`,
    );
  const names = { base, store: base, locks: `${base}.locks`, agents: `${base}.agents` };
  encodeGroupName(names.agents);
  return names;
}
