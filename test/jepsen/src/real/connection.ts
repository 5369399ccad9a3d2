/**
 * A client process's handles on its node's `cpgkit serve`: a client of the store (group G) and
 * a client of the lock service (G.locks), as `cpgkit kv` and `cpgkit lock` open them. When a
 * handle closes (the node's corosync died, or the client was evicted) it is opened again, with
 * backoff, as a new incarnation (`gen`): what the old one held is gone with it.
 * @module
 */
import { corosync, Group } from '@cpgkit/core';
import { Locks, locksMachine } from '@cpgkit/locks';
import { ReplicatedMap, ReplicatedStateMachine, roleOptions } from '@cpgkit/statemachine';

/** One open handle and its incarnation number. */
export interface Handle<T> {
  readonly value: T;
  readonly gen: number;
}

/** Keeps a store client and a lock client open on this node. */
export class Connection {
  kv: Handle<ReplicatedMap> | undefined;
  locks: Handle<Locks> | undefined;
  #closing = false;
  #gen = 0;
  readonly #loops: Promise<void>[] = [];

  constructor(
    private readonly group: string,
    private readonly log: (m: string) => void,
    /** Called with every newly opened lock client (to observe its elections). */
    private readonly onLocks: (h: Handle<Locks>) => void,
  ) {}

  start(): void {
    this.#loops.push(this.#keep('kv'), this.#keep('locks'));
  }

  async close(): Promise<void> {
    this.#closing = true;
    await Promise.all(this.#loops);
    await Promise.allSettled([this.kv?.value.close(), this.locks?.value.close()]);
  }

  async #keep(kind: 'kv' | 'locks'): Promise<void> {
    let backoff = 200;
    while (!this.#closing) {
      const h = this[kind];
      if (h !== undefined && h.value.machine.status !== 'closed') {
        await sleep(100);
        continue;
      }
      if (h !== undefined) {
        this.log(`${kind} client ${h.gen} closed; opening a new one`);
        this[kind] = undefined;
      }
      try {
        if (kind === 'kv') {
          const kv = await ReplicatedMap.open(new Group(corosync()), {
            groupName: this.group,
            role: 'client',
            checkInterval: 0,
            timeout: 10_000,
          });
          await kv.machine.synced({ timeout: 10_000 }).catch(async (e: unknown) => {
            await kv.close();
            throw e;
          });
          this.kv = { value: kv, gen: ++this.#gen };
        } else {
          const machine = await ReplicatedStateMachine.open(
            new Group(corosync()),
            locksMachine(),
            roleOptions({
              groupName: `${this.group}.locks`,
              role: 'client',
              checkInterval: 0,
              timeout: 10_000,
            }),
          );
          const locks = new Locks(machine, { closeMachine: true });
          await machine.synced({ timeout: 10_000 }).catch(async (e: unknown) => {
            await locks.close();
            throw e;
          });
          const handle = { value: locks, gen: ++this.#gen };
          this.locks = handle;
          this.onLocks(handle);
        }
        backoff = 200;
      } catch (e) {
        this.log(`opening the ${kind} client failed: ${e instanceof Error ? e.name : String(e)}`);
        await sleep(backoff);
        backoff = Math.min(backoff * 2, 2000);
      }
    }
  }
}

/** A real-time sleep. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
