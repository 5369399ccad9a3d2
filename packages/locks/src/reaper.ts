/**
 * The reaper of abandoned requests: a request or a hold that a `Locks` client gave up but
 * could not withdraw (no quorum, closed, timed out) is remembered here, and withdrawn or
 * released through the group once the machine is ready again, if the state still lists it.
 * @module
 */
import type { LocksCommand } from './commands.js';
import type { LocksStateMachine } from './types.js';
import { lockOf } from './lock-table.js';

interface Abandoned {
  readonly name: string;
  readonly election: boolean;
  readonly since: number;
}

/** How long (ms) an abandoned request id is remembered, to release it if it is granted after all. */
const ABANDON_KEEP = 10 * 60_000;

/** The abandoned requests of one client (not exported from the package). */
export class Reaper {
  readonly #machine: LocksStateMachine;
  readonly #abandoned = new Map<string, Abandoned>();
  readonly #inflight = new Set<string>();

  constructor(machine: LocksStateMachine) {
    this.#machine = machine;
  }

  /** Remember request `id` (a campaign when `election`) to withdraw it when ready. */
  abandon(id: string, name: string, election: boolean): void {
    this.#abandoned.set(id, { name, election, since: this.#machine.clock.now() });
  }

  /** Release or withdraw what we gave up but the state still lists as ours. */
  reap(): void {
    const m = this.#machine;
    if (this.#abandoned.size === 0 || m.status !== 'ready') return;
    const state = m.state;
    const me = m.self.incarnation;
    const now = m.clock.now();
    for (const [id, a] of this.#abandoned) {
      if (this.#inflight.has(id)) continue;
      let cmd: LocksCommand | undefined;
      if (a.election) {
        const e = state.elections[a.name];
        const c = e?.leader?.id === id ? e.leader : e?.candidates.find((x) => x.id === id);
        if (c !== undefined && c.owner.incarnation === me)
          cmd = { type: 'resign', id, name: a.name };
      } else {
        const entry = lockOf(state.locks, a.name);
        const x =
          entry?.holders.find((h) => h.id === id) ?? entry?.waiters.find((h) => h.id === id);
        if (x !== undefined && x.owner.incarnation === me)
          cmd = { type: 'withdraw', id, name: a.name };
      }
      if (cmd === undefined) {
        if (now - a.since > ABANDON_KEEP) this.#abandoned.delete(id);
        continue;
      }
      this.#inflight.add(id);
      m.dispatch(cmd, { timeout: 10_000 })
        .then(
          () => this.#abandoned.delete(id),
          () => undefined,
        )
        .finally(() => this.#inflight.delete(id));
    }
  }
}
