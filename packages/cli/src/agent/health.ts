/**
 * Whether an agent is healthy (what `/healthz` answers): both replicas synced in a quorate
 * component, or why not.
 * @module
 */
import type { AgentState } from './types.js';

/** The answer of `/healthz`. */
export interface Health {
  /** Both replicas are `ready`: synced, in a quorate component with a majority of `Q`. */
  readonly ok: boolean;
  /** `ok`, or why not (one line). */
  readonly reason: string;
}

/** The health of an agent in `state`. */
export function health(state: AgentState): Health {
  switch (state.kind) {
    case 'stopped':
      return { ok: false, reason: 'stopped' };
    case 'connecting':
      return {
        ok: false,
        reason: `not connected to corosync (${state.reason}); reconnecting${state.attempt > 0 ? ` (attempt ${state.attempt})` : ''}`,
      };
    case 'running': {
      const parts: string[] = [];
      const store = state.replicas.kv.status;
      const locks = state.replicas.locks.status;
      if (store !== 'ready') parts.push(`store ${store}${explain(store)}`);
      if (locks !== 'ready') parts.push(`locks ${locks}${explain(locks)}`);
      return parts.length === 0
        ? { ok: true, reason: 'ok' }
        : { ok: false, reason: parts.join('; ') };
    }
  }
}

function explain(status: string): string {
  switch (status) {
    case 'syncing':
      return ' (exchanging state after a membership change, or waiting for a replica that holds the state)';
    case 'minority':
      return ' (no quorum here, or no majority of the replica set present)';
    default:
      return '';
  }
}
