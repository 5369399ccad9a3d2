/**
 * The four workloads as a client process on one node runs them against its node's `cpgkit
 * serve` (the same operations as the in-memory campaign's workloads, `src/sim/workloads/`):
 * register (linearizable reads, writes, compare-and-set on a few keys), set (unique adds, a
 * final linearizable list), lock (acquire, fenced writes to the harness's resource, release),
 * election (campaign, lead a while, resign; every lock client observes the election).
 * Every record is stamped the instant it happens (see `protocol.ts`).
 * @module
 */
import { Random } from '@cpgkit/core/testing';
import type { Leadership, Lock, Locks } from '@cpgkit/locks';
import { CompareFailedError, type Json, type MapCompare } from '@cpgkit/statemachine';
import type { Outcome, Value } from '../history.js';
import type { Connection, Handle } from './connection.js';
import { sleep } from './connection.js';
import type { ClientRecord, WorkloadName } from './protocol.js';
import { lockOf } from '@cpgkit/locks';

export const REGISTER_KEYS = ['r0', 'r1', 'r2'];
export const LOCK_NAMES = ['L0', 'L1'];
export const ELECTION = 'E0';

/** Errors after which the library promises the command was not applied. */
const NOT_APPLIED = new Set([
  'NoQuorumError',
  'InterruptedError',
  'NoReplicaError',
  'QueueFullError',
  'TryAgainError',
  'CorosyncNotRunningError',
  'NotJoinedError',
]);

/** `fail` when the library says the command was not applied, `unknown` otherwise. */
export function outcomeOf(e: unknown): Outcome {
  return NOT_APPLIED.has(errorName(e)) ? 'fail' : 'unknown';
}

export function errorName(e: unknown): string {
  return e instanceof Error ? e.name : String(e);
}

/** What the workloads need from the client process. */
export interface ClientContext {
  readonly node: number;
  readonly conn: Connection;
  readonly opTimeout: number;
  /** How the register workload reads (final reads are always linearizable). */
  readonly readConsistency: 'linearizable' | 'stale';
  record(workload: WorkloadName, rec: ClientRecord): void;
  /** Ask the harness's fenced resource to accept a write with `token`. */
  fence(process: string, name: string, grant: string, token: string): Promise<boolean>;
  stopped(): boolean;
}

/** The workloads of one client process. */
export class ClientWorkloads {
  #id = 0;
  #next = 0;
  readonly #recent = new Map<string, Value[]>();

  constructor(
    private readonly ctx: ClientContext,
    seed: number,
  ) {
    this.rng = new Random(`jepsen-real:${seed}:${ctx.node}`);
  }

  readonly rng: Random;

  /** A unique value for this node (register values, set elements). */
  #unique(): number {
    return this.ctx.node * 10_000_000 + ++this.#next;
  }

  #invoke(w: WorkloadName, process: string, op: string, value: Value): number {
    const id = ++this.#id;
    this.ctx.record(w, { kind: 'invoke', id, process, op, value });
    return id;
  }

  #complete(
    w: WorkloadName,
    id: number,
    process: string,
    op: string,
    outcome: Outcome,
    value: Value = null,
    error?: string,
  ): void {
    this.ctx.record(w, {
      kind: 'complete',
      id,
      process,
      op,
      value,
      outcome,
      ...(error === undefined ? {} : { error }),
    });
  }

  /** Run the four workloads' loops until `ctx.stopped()`. */
  run(): Promise<void> {
    const loop = async (
      w: WorkloadName,
      ready: () => boolean,
      step: (p: string) => Promise<Outcome>,
    ): Promise<void> => {
      let incarnation = 0;
      while (!this.ctx.stopped()) {
        if (!ready()) {
          await sleep(50);
          continue;
        }
        const o = await step(`${w}.n${this.ctx.node}.${incarnation}`);
        if (o === 'unknown') incarnation++;
        await sleep(30 + this.rng.int(200));
      }
    };
    const kv = (): boolean => this.ctx.conn.kv !== undefined;
    const locks = (): boolean => this.ctx.conn.locks !== undefined;
    return Promise.all([
      loop('register', kv, (p) => this.register(p)),
      loop('set', kv, (p) => this.add(p)),
      loop('lock', locks, (p) => this.lock(p)),
      loop('election', locks, (p) => this.campaign(p)),
    ]).then(() => undefined);
  }

  async read(
    p: string,
    key: string,
    consistency: 'linearizable' | 'stale' = this.ctx.readConsistency,
  ): Promise<{ ok: true; value: Value } | { ok: false }> {
    const kv = this.ctx.conn.kv?.value;
    const id = this.#invoke('register', p, 'read', { key });
    try {
      if (kv === undefined) throw new Error('no store client');
      const v =
        (await kv.get(key, {
          consistency,
          timeout: this.ctx.opTimeout,
        })) ?? null;
      this.#complete('register', id, p, 'read', 'ok', v);
      this.#remember(key, v);
      return { ok: true, value: v };
    } catch (e) {
      // a read changes nothing: whatever happened, it is as if it never ran
      this.#complete('register', id, p, 'read', 'fail', null, errorName(e));
      return { ok: false };
    }
  }

  async register(p: string): Promise<Outcome> {
    const kv = this.ctx.conn.kv!.value;
    const key = REGISTER_KEYS[this.rng.int(REGISTER_KEYS.length)]!;
    const r = this.rng.next();
    if (r < 0.5) return (await this.read(p, key)).ok ? 'ok' : 'fail';
    const value = this.#unique();
    if (r < 0.75) {
      const id = this.#invoke('register', p, 'write', { key, value });
      try {
        await kv.set(key, value, { timeout: this.ctx.opTimeout });
        this.#complete('register', id, p, 'write', 'ok');
        this.#remember(key, value);
        return 'ok';
      } catch (e) {
        const o = outcomeOf(e);
        this.#complete('register', id, p, 'write', o, null, errorName(e));
        return o;
      }
    }
    const recent = this.#recent.get(key) ?? [null];
    const from = recent[this.rng.int(recent.length)]!;
    const id = this.#invoke('register', p, 'cas', { key, from, to: value });
    const compare: MapCompare =
      from === null ? { key, exists: false } : { key, value: from as Json };
    try {
      await kv.transaction([compare], [{ op: 'set', key, value }], {
        timeout: this.ctx.opTimeout,
      });
      this.#complete('register', id, p, 'cas', 'ok', { applied: true });
      this.#remember(key, value);
      return 'ok';
    } catch (e) {
      if (e instanceof CompareFailedError) {
        this.#complete('register', id, p, 'cas', 'ok', { applied: false });
        return 'ok';
      }
      const o = outcomeOf(e);
      this.#complete('register', id, p, 'cas', o, null, errorName(e));
      return o;
    }
  }

  #remember(key: string, v: Value): void {
    const l = this.#recent.get(key) ?? [];
    l.push(v);
    if (l.length > 4) l.shift();
    this.#recent.set(key, l);
  }

  async add(p: string): Promise<Outcome> {
    const element = this.#unique();
    const id = this.#invoke('set', p, 'add', { element });
    try {
      await this.ctx.conn.kv!.value.set(`set/${element}`, true, { timeout: this.ctx.opTimeout });
      this.#complete('set', id, p, 'add', 'ok');
      return 'ok';
    } catch (e) {
      const o = outcomeOf(e);
      this.#complete('set', id, p, 'add', o, null, errorName(e));
      return o;
    }
  }

  async lock(p: string): Promise<Outcome> {
    const locks = this.ctx.conn.locks!.value;
    const name = LOCK_NAMES[this.rng.int(LOCK_NAMES.length)]!;
    const id = this.#invoke('lock', p, 'acquire', { name });
    let lock: Lock;
    try {
      lock = await locks.acquire(name, { timeout: this.ctx.opTimeout });
    } catch (e) {
      const o = outcomeOf(e);
      this.#complete('lock', id, p, 'acquire', o, null, errorName(e));
      return o;
    }
    const grant = { name, grant: lock.id, token: lock.token.toString() };
    this.#complete('lock', id, p, 'acquire', 'ok', grant);
    const lost = (reason: string): void =>
      this.ctx.record('lock', {
        kind: 'event',
        process: p,
        event: 'lost',
        value: { ...grant, reason },
      });
    if (lock.lost) lost('at grant');
    else
      lock.signal.addEventListener('abort', () =>
        lost((lock.signal.reason as { reason?: string } | undefined)?.reason ?? '?'),
      );
    const writes = 1 + this.rng.int(3);
    for (let i = 0; i < writes; i++) {
      await sleep(this.rng.int(100));
      // a well-behaved holder writes only while it believes it holds the lock
      if (lock.lost || this.ctx.stopped()) break;
      await this.ctx.fence(p, name, lock.id, grant.token);
    }
    const rid = this.#invoke('lock', p, 'release', grant);
    try {
      await lock.release();
      this.#complete('lock', rid, p, 'release', 'ok');
      return 'ok';
    } catch (e) {
      const o = outcomeOf(e);
      this.#complete('lock', rid, p, 'release', o, null, errorName(e));
      return o;
    }
  }

  async campaign(p: string): Promise<Outcome> {
    const locks = this.ctx.conn.locks!.value;
    const id = this.#invoke('election', p, 'campaign', { name: ELECTION });
    let l: Leadership;
    try {
      l = await locks.campaign(ELECTION, { timeout: this.ctx.opTimeout, value: p });
    } catch (e) {
      const o = outcomeOf(e);
      this.#complete('election', id, p, 'campaign', o, null, errorName(e));
      return o;
    }
    const term = l.term.toString();
    this.#complete('election', id, p, 'campaign', 'ok', {
      name: ELECTION,
      grant: l.id,
      term,
      owner: locks.machine.self.incarnation,
    });
    const value = { name: ELECTION, grant: l.id, term };
    const lost = (reason: string): void =>
      this.ctx.record('election', {
        kind: 'event',
        process: p,
        event: 'lost',
        value: { ...value, reason },
      });
    if (l.lost) lost('at election');
    else
      l.signal.addEventListener('abort', () =>
        lost((l.signal.reason as { reason?: string } | undefined)?.reason ?? '?'),
      );
    for (let i = 0, n = this.rng.int(4); i < n && !l.lost && !this.ctx.stopped(); i++) {
      await sleep(50 + this.rng.int(300));
    }
    const rid = this.#invoke('election', p, 'resign', value);
    try {
      await l.resign();
      this.#complete('election', rid, p, 'resign', 'ok');
      return 'ok';
    } catch (e) {
      const o = outcomeOf(e);
      this.#complete('election', rid, p, 'resign', o, null, errorName(e));
      return o;
    }
  }

  /** Report every change of the election as this lock client sees it, until it closes. */
  async observe(h: Handle<Locks>): Promise<void> {
    const who = `observe.n${this.ctx.node}.${h.gen}`;
    try {
      for await (const info of h.value.observe(ELECTION)) {
        this.ctx.record('election', {
          kind: 'event',
          process: who,
          event: 'observe',
          value: {
            name: ELECTION,
            term: info.term.toString(),
            leader: info.leader?.incarnation ?? null,
            stale: info.stale,
          },
        });
      }
    } catch {
      // the client closed
    }
  }

  /** The final reads: every register key, the whole set, each lock's holders. */
  async final(): Promise<{
    registers: Record<string, Value> | { error: string };
    set: number[] | { error: string };
  }> {
    const node = this.ctx.node;
    let registers: Record<string, Value> | { error: string } = {};
    for (const key of REGISTER_KEYS) {
      const r = await this.read(`register.final.n${node}`, key, 'linearizable');
      if (!r.ok) {
        registers = { error: `read of ${key} failed` };
        break;
      }
      registers[key] = r.value;
    }
    let set: number[] | { error: string };
    const p = `set.final.n${node}`;
    const id = this.#invoke('set', p, 'read', null);
    try {
      const kv = this.ctx.conn.kv?.value;
      if (kv === undefined) throw new Error('no store client');
      const items = await kv.list('set/', {
        consistency: 'linearizable',
        timeout: this.ctx.opTimeout,
      });
      set = items.map((i) => Number(i.key.slice('set/'.length)));
      this.#complete('set', id, p, 'read', 'ok', set);
    } catch (e) {
      this.#complete('set', id, p, 'read', 'fail', null, errorName(e));
      set = { error: errorName(e) };
    }
    const locks = this.ctx.conn.locks?.value;
    if (locks !== undefined) {
      await locks.machine.ready({ timeout: this.ctx.opTimeout }).catch(() => undefined);
      if (locks.machine.status === 'ready') {
        for (const name of LOCK_NAMES) {
          const holders = lockOf(locks.machine.state.locks, name)?.holders.map((h) => h.id) ?? [];
          this.ctx.record('lock', {
            kind: 'event',
            process: `lock.final.n${node}`,
            event: 'holders',
            value: { name, holders },
          });
        }
      }
    }
    return { registers, set };
  }
}

export type { Locks };
