/**
 * The agent's side of the protocol (see protocol.ts), independent of how the member is made:
 * `agent.ts` serves it over stdin/stdout with a corosync member; the unit test serves it over
 * in-process streams with any `GroupTransport`.
 * @module
 */
import { pathToFileURL } from 'node:url';
import type { GroupEventType, GroupTransport } from '@cpgkit/core';
import {
  encodeError,
  encodeEvent,
  encodeGroupInfo,
  fromBase64,
  lineSplitter,
  stringifyLine,
  type Reply,
  type Request,
  type WireState,
} from './protocol.js';

/** Makes a new group member (connected or not, not joined). */
export type MemberFactory = () => Promise<GroupTransport>;

/**
 * What a scenario function run inside the agent gets as its second argument.
 *
 * @example
 * ```ts
 * // my-scenario.ts, run with `remote.run(import.meta.resolve('./my-scenario.ts'), 'flood', { n: 100 })`
 * export async function flood(args: { n: number }, ctx: AgentRunContext): Promise<number> {
 *   const g = await ctx.member();
 *   for (let i = 0; i < args.n; i++) await g.send(new TextEncoder().encode(`m${i}`));
 *   ctx.emit({ sent: args.n });
 *   return args.n;
 * }
 * ```
 */
export interface AgentRunContext {
  /** Stream a JSON value back to the caller (bigints become strings, bytes `{ base64 }`). */
  emit(value: unknown): void;
  /** Aborted when the caller cancels the run, or the agent exits. */
  readonly signal: AbortSignal;
  /** This agent's member: the same one the proxy's join/send/events drive. */
  member(): Promise<GroupTransport>;
  /** A further, separate member in this process (not joined). Closed when the agent exits. */
  newMember(): Promise<GroupTransport>;
}

/** A function a `run` request may call. */
export type AgentScenario<A = unknown, R = unknown> = (args: A, ctx: AgentRunContext) => Promise<R>;

/** How the agent talks: where lines come from and go to. */
export interface AgentIo {
  /** Subscribe to input chunks; `onEnd` when the input closes. */
  readonly input: {
    on(event: 'data', fn: (chunk: Buffer | string) => void): unknown;
    on(event: 'end', fn: () => void): unknown;
  };
  /** Write one line (without the newline). */
  writeLine(line: string): void;
}

const eventTypes: readonly GroupEventType[] = ['message', 'membership', 'totem', 'quorum'];

/**
 * Serve the protocol until an `exit` request or the end of input. Resolves when done (the
 * member and every extra member are closed by then).
 * @param io - input and output
 * @param makeMember - makes the agent's member (called once, before `hello`) and extra ones
 */
export async function serveAgent(io: AgentIo, makeMember: MemberFactory): Promise<void> {
  const member = await makeMember();
  const extra: GroupTransport[] = [];
  const runs = new Map<number, AbortController>();
  const lifetime = new AbortController();
  const send = (reply: Reply): void => io.writeLine(stringifyLine(reply));

  const state = (): WireState => {
    let self;
    try {
      self = member.self;
    } catch {
      self = undefined;
    }
    let members: WireState['members'] = [];
    try {
      members = member.joined ? member.members() : [];
    } catch {
      members = [];
    }
    return {
      kind: member.kind,
      joined: member.joined,
      name: member.name,
      self,
      quorate: member.quorate,
      maxMessageSize: member.maxMessageSize,
      members,
    };
  };

  for (const type of eventTypes) {
    member.on(type, (event) => send({ type: 'event', event: encodeEvent(event), state: state() }));
  }
  void member.closed().then((error) => {
    send({ type: 'closed', ...(error ? { error: encodeError(error) } : {}), state: state() });
  });

  let finish!: () => void;
  const finished = new Promise<void>((resolve) => {
    finish = resolve;
  });
  let exiting = false;
  const shutdown = async (): Promise<void> => {
    if (exiting) return;
    exiting = true;
    lifetime.abort(new Error('the agent is exiting'));
    await Promise.allSettled([member.close(), ...extra.map((m) => m.close())]);
  };

  const ctxFor = (signal: AbortSignal): AgentRunContext => ({
    signal,
    emit: () => undefined, // replaced per run below
    member: () => Promise.resolve(member),
    newMember: async () => {
      const m = await makeMember();
      extra.push(m);
      return m;
    },
  });

  const handle = async (req: Request): Promise<unknown> => {
    switch (req.op) {
      case 'join':
        return member.join(req.name, req.timeout === undefined ? {} : { timeout: req.timeout });
      case 'leave':
        return member.leave();
      case 'send':
        return member.send(
          typeof req.data === 'string' ? fromBase64(req.data) : req.data.map(fromBase64),
        );
      case 'members':
        return member.members();
      case 'groups':
        return (await member.groups()).map(encodeGroupInfo);
      case 'state':
        return state();
      case 'close':
        return member.close();
      case 'exit':
        await shutdown();
        return undefined;
      case 'cancel':
        runs.get(req.target)?.abort(new Error('cancelled by the caller'));
        return undefined;
      case 'run': {
        const ac = new AbortController();
        const onLifetimeAbort = (): void => ac.abort(lifetime.signal.reason);
        lifetime.signal.addEventListener('abort', onLifetimeAbort, { once: true });
        runs.set(req.id, ac);
        try {
          const url = /^[a-z]+:/.test(req.module) ? req.module : pathToFileURL(req.module).href;
          const mod = (await import(url)) as Record<string, unknown>;
          const fn = mod[req.export];
          if (typeof fn !== 'function')
            throw new TypeError(`${req.module} has no exported function '${req.export}'`);
          ac.signal.throwIfAborted();
          const ctx = {
            ...ctxFor(ac.signal),
            emit: (value: unknown) => send({ type: 'stream', id: req.id, value }),
          };
          return await (fn as AgentScenario)(req.args, ctx);
        } finally {
          runs.delete(req.id);
          lifetime.signal.removeEventListener('abort', onLifetimeAbort);
        }
      }
    }
  };

  const onLine = (line: string): void => {
    let req: Request;
    try {
      req = JSON.parse(line) as Request;
    } catch {
      process.stderr.write(`agent: ignoring a line that is not JSON: ${line.slice(0, 200)}\n`);
      return;
    }
    // `handle` starts synchronously: requests reach the member in the order they arrived
    handle(req).then(
      (value) => {
        send({ type: 'result', id: req.id, ok: true, value, state: state() });
        if (req.op === 'exit') finish();
      },
      (err: unknown) =>
        send({ type: 'result', id: req.id, ok: false, error: encodeError(err), state: state() }),
    );
  };

  io.input.on('data', lineSplitter(onLine));
  io.input.on('end', () => {
    void shutdown().then(finish);
  });
  send({ type: 'hello', pid: process.pid, kind: member.kind });
  await finished;
}
