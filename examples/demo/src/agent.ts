/**
 * One demo node's member process: a replica of the config store (`ReplicatedMap`) and of the
 * lock machine (`Locks`: the lock and the election), each in its own group, over any
 * transport. Used in-process on the in-memory cluster, and inside each node process on
 * real corosync (`node-process.ts`).
 * @module
 */
import type { LiveViewNode } from '@cpgkit/cli';
import { Group, type Transport } from '@cpgkit/core';
import { Locks, type Lock, type Leadership } from '@cpgkit/locks';
import { ReplicatedMap, type Json } from '@cpgkit/statemachine';
import type { DemoNode, LockTurn, NodeEvent } from './node.js';
import type { NodeRow } from './view.js';

/** The election the demo's nodes campaign in. */
export const ELECTION = 'demo-leader';

/** Options for `NodeAgent.start`. */
export interface AgentOptions {
  /** The cluster node this process runs on. */
  readonly node: number;
  /** How this process reaches the cluster (`corosync()`, or `memoryCluster.node(n)`). */
  readonly transport: Transport;
  /** A prefix for the two groups (`PREFIX.config`, `PREFIX.locks`). */
  readonly group: string;
}

/** A demo node living in this process. */
export class NodeAgent implements DemoNode {
  readonly node: number;
  readonly #map: ReplicatedMap;
  readonly #locks: Locks;
  readonly #listeners: ((e: NodeEvent) => void)[] = [];
  /** Events from before anyone listened (e.g. elected while the other nodes started). */
  readonly #early: NodeEvent[] = [];
  readonly #stop = new AbortController();
  #leading: Leadership | undefined;
  #holding: Lock | undefined;
  #closed: Promise<void> | undefined;

  private constructor(node: number, map: ReplicatedMap, locks: Locks) {
    this.node = node;
    this.#map = map;
    this.#locks = locks;
  }

  /** Join both groups and start campaigning. */
  static async start(options: AgentOptions): Promise<NodeAgent> {
    const map = await ReplicatedMap.open(new Group(options.transport), {
      groupName: `${options.group}.config`,
    });
    // counter tokens (1, 2, 3...) read well in a demo; the default ('clock') tokens also stay
    // increasing across a restart of every node without persistence
    const locks = await Locks.open(new Group(options.transport), {
      groupName: `${options.group}.locks`,
      tokens: 'counter',
    });
    const agent = new NodeAgent(options.node, map, locks);
    agent.#run();
    return agent;
  }

  #emit(event: NodeEvent): void {
    if (this.#listeners.length === 0) this.#early.push(event);
    for (const l of this.#listeners) l(event);
  }

  #run(): void {
    const { signal } = this.#stop;
    this.#map.on('status', (e) => this.#emit({ type: 'status', status: e.status }));
    void this.#campaign(signal);
    void (async () => {
      for await (const info of this.#locks.observe(ELECTION, { signal })) {
        this.#emit({
          type: 'leader',
          leader: info.leader?.nodeid ?? null,
          term: Number(info.term),
        });
      }
    })().catch(() => {});
    void (async () => {
      for await (const c of this.#map.watch('', { signal })) {
        this.#emit({
          type: 'config',
          key: c.key,
          value: c.value ?? null,
          revision: String(c.revision),
        });
      }
    })().catch(() => {});
  }

  /** Campaign for leadership; when it is lost, campaign again (until closed). */
  async #campaign(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        await this.#locks.machine.ready({ signal });
        const leadership = await this.#locks.campaign(ELECTION, { value: this.node, signal });
        this.#leading = leadership;
        this.#emit({ type: 'elected', term: Number(leadership.term) });
        await new Promise<void>((resolve) => {
          if (leadership.signal.aborted) resolve();
          leadership.signal.addEventListener('abort', () => resolve(), { once: true });
          signal.addEventListener('abort', () => resolve(), { once: true });
        });
        this.#leading = undefined;
        if (signal.aborted) return;
        const reason = leadership.signal.reason as Error | undefined;
        this.#emit({
          type: 'deposed',
          term: Number(leadership.term),
          reason: reason?.message ?? 'lost',
        });
      } catch (err) {
        if (process.env.CPGKIT_DEMO_DEBUG)
          process.stderr.write(`node ${this.node}: campaign: ${String(err)}\n`);
        // no quorum, closed, or aborted: try again a little later
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  async ready(timeoutMs: number): Promise<void> {
    await this.#map.ready({ timeout: timeoutMs });
    await this.#locks.machine.ready({ timeout: timeoutMs });
  }

  async set(key: string, value: unknown): Promise<string> {
    return String(await this.#map.set(key, value as Json, { timeout: 5_000 }));
  }

  async lockTurn(name: string, holdMs: number, timeoutMs: number): Promise<LockTurn> {
    const start = performance.now();
    const lock = await this.#locks.acquire(name, { timeout: timeoutMs });
    const waitedMs = performance.now() - start;
    this.#holding = lock;
    try {
      await new Promise((r) => setTimeout(r, holdMs));
    } finally {
      this.#holding = undefined;
      await lock.release();
    }
    return { token: lock.token.toString(), waitedMs };
  }

  row(): Promise<NodeRow> {
    const info = this.#locks.leader(ELECTION);
    const config: Record<string, unknown> = {};
    // before its first sync a replica has nothing to read (list() would throw NotReadyError)
    if (this.#map.readable) for (const item of this.#map.list()) config[item.key] = item.value;
    return Promise.resolve({
      node: this.node,
      pid: this.#map.machine.self.pid,
      status: this.#map.status,
      leader: this.#leading !== undefined && !this.#leading.lost,
      term: Number(info.term),
      ...(this.#holding ? { lock: `${this.#holding.name} #${this.#holding.token}` } : {}),
      config,
      digest: `${this.#map.machine.digest().slice(0, 4)}${this.#locks.machine.digest().slice(0, 4)}`,
    });
  }

  /** This node's replicas, for the live view (`--web`). */
  liveNode(): LiveViewNode {
    return { kv: this.#map, locks: this.#locks.machine };
  }

  digests(): Promise<string[]> {
    return Promise.resolve([this.#map.machine.digest(), this.#locks.machine.digest()]);
  }

  onEvent(listener: (event: NodeEvent) => void): void {
    this.#listeners.push(listener);
    for (const e of this.#early.splice(0)) listener(e);
  }

  close(): Promise<void> {
    this.#closed ??= (async () => {
      this.#stop.abort();
      await Promise.allSettled([this.#locks.close(), this.#map.close()]);
    })();
    return this.#closed;
  }
}
