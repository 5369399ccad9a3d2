/**
 * A `DemoNode` that is a child process (on real corosync: in the node's network namespace),
 * spoken to over stdin/stdout with the line protocol of `rpc.ts`.
 * @module
 */
import type { ChildProcessByStdio } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import type { DemoNode, LockTurn, NodeEvent } from './node.js';
import { RemoteError, type Op, type Reply } from './rpc.js';
import type { NodeRow } from './view.js';

/** A node process, driven over its stdio. */
export class RemoteNode implements DemoNode {
  readonly #child: ChildProcessByStdio<Writable, Readable, Readable>;
  readonly #pending = new Map<
    number,
    { resolve: (v: unknown) => void; reject: (e: Error) => void }
  >();
  readonly #listeners: ((e: NodeEvent) => void)[] = [];
  readonly #early: NodeEvent[] = [];
  readonly #stderr: string[] = [];
  readonly #exited: Promise<number | null>;
  #nextId = 1;
  #dead: Error | undefined;

  constructor(
    readonly node: number,
    child: ChildProcessByStdio<Writable, Readable, Readable>,
  ) {
    this.#child = child;
    createInterface({ input: child.stdout }).on('line', (line) => this.#onLine(line));
    createInterface({ input: child.stderr }).on('line', (line) => {
      this.#stderr.push(line);
      if (this.#stderr.length > 40) this.#stderr.shift();
    });
    this.#exited = new Promise((resolve) => {
      child.on('exit', (code) => {
        this.#dead = new Error(
          `node ${node}'s process exited (code ${code}); its stderr:\n${this.#stderr.join('\n')}`,
        );
        for (const p of this.#pending.values()) p.reject(this.#dead);
        this.#pending.clear();
        resolve(code);
      });
    });
  }

  /** The last lines the process wrote on stderr. */
  get stderr(): readonly string[] {
    return this.#stderr;
  }

  ready(timeoutMs: number): Promise<void> {
    return this.#call('ready', [timeoutMs]) as Promise<void>;
  }
  set(key: string, value: unknown): Promise<string> {
    return this.#call('set', [key, value]) as Promise<string>;
  }
  lockTurn(name: string, holdMs: number, timeoutMs: number): Promise<LockTurn> {
    return this.#call('lockTurn', [name, holdMs, timeoutMs]) as Promise<LockTurn>;
  }
  row(): Promise<NodeRow> {
    return this.#call('row', []) as Promise<NodeRow>;
  }
  digests(): Promise<string[]> {
    return this.#call('digests', []) as Promise<string[]>;
  }
  onEvent(listener: (event: NodeEvent) => void): void {
    this.#listeners.push(listener);
    for (const e of this.#early.splice(0)) listener(e);
  }

  /** Ask the process to leave and exit; kill it (by its pid) if it has not after `graceMs`. */
  async close(graceMs = 5_000): Promise<void> {
    if (!this.#dead) await this.#call('close', []).catch(() => {});
    const timer = setTimeout(() => {
      if (!this.#dead) this.#child.kill('SIGKILL');
    }, graceMs);
    await this.#exited;
    clearTimeout(timer);
  }

  #call(op: Op, args: unknown[]): Promise<unknown> {
    if (this.#dead) return Promise.reject(this.#dead);
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#child.stdin.write(`${JSON.stringify({ id, op, args })}\n`);
    });
  }

  #onLine(line: string): void {
    let reply: Reply;
    try {
      reply = JSON.parse(line) as Reply;
    } catch {
      this.#stderr.push(`(stdout) ${line}`);
      return;
    }
    if ('event' in reply) {
      if (this.#listeners.length === 0) this.#early.push(reply.event);
      for (const l of this.#listeners) l(reply.event);
      return;
    }
    const p = this.#pending.get(reply.id);
    if (!p) return;
    this.#pending.delete(reply.id);
    if ('error' in reply) p.reject(new RemoteError(reply.error.name, reply.error.message));
    else p.resolve(reply.result);
  }
}
