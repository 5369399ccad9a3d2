/**
 * The test process's side of the agent protocol: requests with ids, replies matched to them,
 * events and `closed` forwarded in the order the agent wrote them. `spawnAgent` starts an agent
 * inside a node's network namespace; `AgentConnection` also works over any pair of streams
 * (the unit test runs an in-process agent).
 * @module
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { TransportKind } from '@cpgkit/core';
import { repoRoot } from './cluster.js';
import {
  lineSplitter,
  reviveError,
  type Reply,
  type Request,
  type WireError,
  type WireEvent,
  type WireState,
} from './protocol.js';

/** A request without its id (the connection numbers them). */
export type RequestBody = Request extends infer R
  ? R extends Request
    ? Omit<R, 'id'>
    : never
  : never;

/** What the agent said when it was ready. */
export interface AgentHello {
  readonly pid: number;
  readonly kind: TransportKind;
}

/** Listeners for what the agent pushes. */
export interface AgentListener {
  event(event: WireEvent, state: WireState): void;
  /** The member's stream ended (closed by us, or the daemon went away). */
  closed(error: WireError | undefined, state: WireState | undefined): void;
  /** Any line that carries a state (results included): keep the mirror current. */
  state(state: WireState): void;
  /** The agent is gone (process exited, or its output ended). Called once, last. */
  gone(error: Error): void;
}

interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
  onEmit: ((value: unknown) => void) | undefined;
}

/** Requests and replies over the agent's JSON lines. */
export class AgentConnection {
  readonly #write: (line: string) => void;
  readonly #pending = new Map<number, Pending>();
  readonly #listeners = new Set<AgentListener>();
  #nextId = 1;
  #gone: Error | undefined;
  readonly hello: Promise<AgentHello>;
  #resolveHello!: (hello: AgentHello) => void;
  #rejectHello!: (error: Error) => void;

  /**
   * @param output - the agent's output (its stdout): lines of JSON
   * @param writeLine - writes one line (without newline) to the agent's input
   * @param label - names the agent in error messages
   */
  constructor(
    output: { on(event: 'data', fn: (chunk: Buffer | string) => void): unknown },
    writeLine: (line: string) => void,
    readonly label: string,
  ) {
    this.#write = writeLine;
    this.hello = new Promise<AgentHello>((resolve, reject) => {
      this.#resolveHello = resolve;
      this.#rejectHello = reject;
    });
    this.hello.catch(() => undefined);
    output.on(
      'data',
      lineSplitter((line) => this.#onLine(line)),
    );
  }

  /** Whether the agent is gone, and why. */
  get gone(): Error | undefined {
    return this.#gone;
  }

  /** Add a listener for pushed lines; returns the remover. */
  listen(listener: AgentListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Send a request; resolves with its value, rejects with the revived error (the same class
   * as in the agent when core exports it), or with the reason the agent is gone.
   */
  request<T = unknown>(
    body: RequestBody,
    onEmit?: (value: unknown) => void,
  ): { id: number; result: Promise<T> } {
    const id = this.#nextId++;
    const result = new Promise<T>((resolve, reject) => {
      if (this.#gone) {
        reject(this.#gone);
        return;
      }
      this.#pending.set(id, { resolve: resolve, reject, onEmit });
      try {
        this.#write(JSON.stringify({ ...body, id }));
      } catch (err) {
        this.#pending.delete(id);
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    });
    return { id, result };
  }

  /** `request(...).result`. */
  call<T = unknown>(body: RequestBody): Promise<T> {
    return this.request<T>(body).result;
  }

  /**
   * Run `exportName` of `module` inside the agent as `fn(args, ctx)`; `onEmit` receives what it
   * emits. Aborting `signal` cancels it in the agent (its `ctx.signal` aborts).
   */
  run<R = unknown>(
    module: string,
    exportName: string,
    args?: unknown,
    options: { onEmit?: (value: unknown) => void; signal?: AbortSignal } = {},
  ): Promise<R> {
    const { id, result } = this.request<R>(
      { op: 'run', module, export: exportName, args },
      options.onEmit,
    );
    const signal = options.signal;
    if (signal) {
      const onAbort = (): void =>
        void this.call({ op: 'cancel', target: id }).catch(() => undefined);
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
      void result
        .finally(() => signal.removeEventListener('abort', onAbort))
        .catch(() => undefined);
    }
    return result;
  }

  /** The agent is gone: fail what is pending and tell the listeners. Idempotent. */
  end(reason: Error): void {
    if (this.#gone) return;
    this.#gone = reason;
    this.#rejectHello(reason);
    for (const p of this.#pending.values()) p.reject(reason);
    this.#pending.clear();
    for (const l of [...this.#listeners]) l.gone(reason);
  }

  #onLine(line: string): void {
    let reply: Reply;
    try {
      reply = JSON.parse(line) as Reply;
    } catch {
      process.stderr.write(`[${this.label}] ${line}\n`);
      return;
    }
    switch (reply.type) {
      case 'hello':
        this.#resolveHello({ pid: reply.pid, kind: reply.kind });
        return;
      case 'event':
        for (const l of this.#listeners) {
          l.state(reply.state);
          l.event(reply.event, reply.state);
        }
        return;
      case 'closed':
        for (const l of this.#listeners) {
          if (reply.state) l.state(reply.state);
          l.closed(reply.error, reply.state);
        }
        return;
      case 'stream':
        this.#pending.get(reply.id)?.onEmit?.(reply.value);
        return;
      case 'result': {
        if (reply.state) for (const l of this.#listeners) l.state(reply.state);
        const p = this.#pending.get(reply.id);
        if (!p) return;
        this.#pending.delete(reply.id);
        if (reply.ok) p.resolve(reply.value);
        else p.reject(reviveError(reply.error));
        return;
      }
    }
  }
}

/** An agent process running inside a node's network namespace. */
export interface AgentProcess {
  readonly node: number;
  /** The agent's pid: the member's pid as corosync reports it. */
  readonly pid: number;
  readonly connection: AgentConnection;
  readonly child: ChildProcess;
  /** Resolves when the process has exited (with its exit code or signal). */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Last lines the agent wrote to stderr (for error messages). */
  stderrTail(): string;
}

const agentPath = join(repoRoot, 'test', 'cluster', 'harness', 'agent.ts');
const tsxLoader = pathToFileURL(createRequire(join(repoRoot, 'package.json')).resolve('tsx')).href;

/** Options for `spawnAgent`. */
export interface SpawnAgentOptions {
  /** The node's network namespace (`ip netns exec <namespace> ...`); none: run here. */
  readonly namespace?: string;
  /** Give up waiting for the agent's `hello` after this long (default 30 s). */
  readonly startTimeoutMs?: number;
  /** Copy the agent's stderr to ours as it comes (default: `CPGKIT_AGENT_LOG=1`). */
  readonly echoStderr?: boolean;
  /** Extra environment for the agent. */
  readonly env?: NodeJS.ProcessEnv;
}

/**
 * Start an agent (`node --import tsx --conditions=@cpgkit/source harness/agent.ts`) inside
 * node N's network namespace and wait until it is ready.
 * @param node - the node number (for labels)
 */
export async function spawnAgent(
  node: number,
  options: SpawnAgentOptions = {},
): Promise<AgentProcess> {
  const nodeArgs = ['--import', tsxLoader, '--conditions=@cpgkit/source', agentPath];
  const [cmd, args] =
    options.namespace === undefined
      ? [process.execPath, nodeArgs]
      : ['ip', ['netns', 'exec', options.namespace, process.execPath, ...nodeArgs]];
  const child = spawn(cmd, args, {
    cwd: repoRoot,
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, ...options.env },
  });
  const label = `agent node ${node}${child.pid === undefined ? '' : ` pid ${child.pid}`}`;
  const echo = options.echoStderr ?? process.env.CPGKIT_AGENT_LOG === '1';
  const tail: string[] = [];
  child.stderr.setEncoding('utf8');
  child.stderr.on(
    'data',
    lineSplitter((line) => {
      tail.push(line);
      if (tail.length > 40) tail.shift();
      if (echo) process.stderr.write(`[${label}] ${line}\n`);
    }),
  );
  child.stdin.on('error', () => undefined); // EPIPE after the agent died: reported through `exited`
  const connection = new AgentConnection(
    child.stdout,
    (line) => child.stdin.write(`${line}\n`),
    label,
  );
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('close', (code, signal) => {
      const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
      const detail = tail.length > 0 ? `; stderr: ${tail.slice(-5).join(' | ')}` : '';
      connection.end(new AgentGoneError(`${label} ${how}${detail}`));
      resolve({ code, signal });
    });
    child.on('error', (err) => {
      connection.end(
        new AgentGoneError(`${label} could not start: ${err.message}`, { cause: err }),
      );
      resolve({ code: null, signal: null });
    });
  });
  const timeoutMs = options.startTimeoutMs ?? 30_000;
  let timer: NodeJS.Timeout | undefined;
  try {
    const hello = await Promise.race([
      connection.hello,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new AgentGoneError(
                `${label} did not start within ${timeoutMs} ms: ${tail.join(' | ')}`,
              ),
            ),
          timeoutMs,
        );
      }),
    ]);
    return { node, pid: hello.pid, connection, child, exited, stderrTail: () => tail.join('\n') };
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

/** The agent process ended or could not start. */
export class AgentGoneError extends Error {
  override name = 'AgentGoneError';
}
