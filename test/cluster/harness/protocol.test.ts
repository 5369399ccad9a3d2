import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import {
  ConnectionLostError,
  MessageTooLargeError,
  NotJoinedError,
  QueueFullError,
  type GroupEvent,
  type MessageEvent,
} from '@cpgkit/core';
import { describe, expect, it } from 'vitest';
import { AgentConnection } from './agent-client.js';
import { serveAgent } from './agent-server.js';
import { LoopbackMember } from './loopback-member.js';
import {
  decodeEvent,
  encodeError,
  encodeEvent,
  lineSplitter,
  reviveError,
  stringifyLine,
  type WireState,
} from './protocol.js';
import { RemoteGroup } from './remote-group.js';
import { spawnRemoteGroup } from './remote-member.js';

const enc = new TextEncoder();
const dec = new TextDecoder();
const scenarios = fileURLToPath(new URL('./scenarios/echo.ts', import.meta.url));

/** A RemoteGroup wired to an in-process agent serving a LoopbackMember over streams. */
async function inProcess(): Promise<{ group: RemoteGroup; served: Promise<void> }> {
  const toAgent = new PassThrough();
  const fromAgent = new PassThrough();
  const served = serveAgent({ input: toAgent, writeLine: (l) => fromAgent.write(`${l}\n`) }, () =>
    Promise.resolve(new LoopbackMember()),
  );
  const conn = new AgentConnection(fromAgent, (l) => toAgent.write(`${l}\n`), 'in-process agent');
  const hello = await conn.hello;
  const state = await conn.call<WireState>({ op: 'state' });
  let ended = false;
  const group = new RemoteGroup(conn, state, {
    node: 0,
    pid: hello.pid,
    shutdown: async () => {
      await conn.call({ op: 'exit' });
      ended = true;
      toAgent.end();
    },
    kill: () => {
      if (!ended) conn.end(new Error('killed'));
      return Promise.resolve();
    },
  });
  return { group, served };
}

async function take(it: AsyncIterator<GroupEvent>, n: number): Promise<GroupEvent[]> {
  const out: GroupEvent[] = [];
  while (out.length < n) {
    const r = await it.next();
    if (r.done) break;
    out.push(r.value);
  }
  return out;
}

describe('agent protocol: wire forms', () => {
  it('round-trips every event type, bytes as base64 and the ring seq as a decimal string', () => {
    const events: GroupEvent[] = [
      { type: 'message', sender: { nodeid: 3, pid: 77 }, data: new Uint8Array([0, 255, 1, 128]) },
      {
        type: 'membership',
        members: [{ nodeid: 1, pid: 2 }],
        joined: [{ nodeid: 1, pid: 2, reason: 'join' }],
        left: [{ nodeid: 2, pid: 9, reason: 'nodedown' }],
      },
      { type: 'totem', ringId: { nodeid: 2, seq: 2n ** 63n + 5n }, nodes: [1, 2, 3] },
      { type: 'quorum', quorate: false },
      { type: 'quorum', quorate: true, view: { ringSeq: 2n ** 63n + 5n, nodes: [1, 3] } },
    ];
    for (const e of events) {
      const line = stringifyLine(encodeEvent(e));
      expect(decodeEvent(JSON.parse(line) as ReturnType<typeof encodeEvent>)).toEqual(e);
    }
    expect(stringifyLine(encodeEvent(events[2]!))).toContain('"seq":"9223372036854775813"');
    expect(stringifyLine(encodeEvent(events[0]!))).toContain('"data":"AP8BgA=="');
  });

  it('revives errors as the same class by name, with their fields', () => {
    const tooBig = reviveError(encodeError(new MessageTooLargeError(2000, 1000)));
    expect(tooBig).toBeInstanceOf(MessageTooLargeError);
    expect(tooBig).toMatchObject({ size: 2000, limit: 1000, name: 'MessageTooLargeError' });
    const nj = reviveError(encodeError(new NotJoinedError('not in a group')));
    expect(nj).toBeInstanceOf(NotJoinedError);
    expect(nj.message).toBe('not in a group');
    const other = reviveError(encodeError(new RangeError('out of range')));
    expect(other.name).toBe('RangeError');
    expect(other.message).toBe('out of range');
  });

  it('splits lines across chunks, including a UTF-8 character cut in two', () => {
    const lines: string[] = [];
    const feed = lineSplitter((l) => lines.push(l));
    const bytes = Buffer.from('{"a":"é"}\n\n{"b":1}\n', 'utf8');
    for (const i of [0, 6, 7, 11, bytes.length]) void i;
    feed(bytes.subarray(0, 7)); // cuts é (2 bytes at 6..7)
    feed(bytes.subarray(7, 12));
    feed(bytes.subarray(12));
    expect(lines).toEqual(['{"a":"é"}', '{"b":1}']);
  });
});

describe('RemoteGroup over an in-process agent (loopback member)', () => {
  it('joins, sends one and several messages, and receives them in order with the sender', async () => {
    const { group, served } = await inProcess();
    expect(group.joined).toBe(false);
    expect(() => group.self).toThrow(NotJoinedError);
    const it = group.events();
    await group.join('g1');
    await group.send(enc.encode('one'));
    await group.send([enc.encode('two'), enc.encode('three')]);
    const events = await take(it, 6);
    expect(events.map((e) => e.type)).toEqual([
      'totem',
      'membership',
      'quorum',
      'message',
      'message',
      'message',
    ]);
    const msgs = events.filter((e): e is MessageEvent => e.type === 'message');
    expect(msgs.map((m) => dec.decode(m.data))).toEqual(['one', 'two', 'three']);
    expect(msgs[0]?.sender).toEqual(group.self);
    expect(group.joined).toBe(true);
    expect(group.name).toBe('g1');
    expect(group.members()).toEqual([group.self]);
    expect(group.quorate).toBe(true);
    const groups = await group.groups();
    expect(groups.map((g) => [g.group, dec.decode(g.nameBytes), g.members])).toEqual([
      ['g1', 'g1', [group.self]],
    ]);
    await group.close();
    expect(await it.next()).toEqual({ value: undefined, done: true });
    expect(await group.closed()).toBeUndefined();
    await served;
  });

  it('reports typed errors from the member', async () => {
    const { group } = await inProcess();
    await expect(group.send(enc.encode('x'))).rejects.toBeInstanceOf(NotJoinedError);
    await expect(group.leave()).rejects.toThrow(/not joined/);
    await group.close();
    await group.close(); // idempotent
  });

  it('runs scenario code inside the agent, streaming what it emits, with cancel', async () => {
    const { group } = await inProcess();
    const emitted: unknown[] = [];
    const r = await group.run<{ sum: number }>(
      scenarios,
      'countTo',
      { count: 4 },
      { onEmit: (v) => emitted.push(v) },
    );
    expect(r.sum).toBe(10);
    expect(emitted).toEqual([{ i: 1 }, { i: 2 }, { i: 3 }, { i: 4 }]);
    const echo = await group.run<{ text: string; sender: unknown }>(scenarios, 'joinAndEcho', {
      group: 'e',
      text: 'hé',
    });
    expect(echo).toEqual({ text: 'hé', sender: group.self });
    const ac = new AbortController();
    const waiting = group.run(scenarios, 'waitForCancel', null, { signal: ac.signal });
    ac.abort();
    await expect(waiting).rejects.toThrow(/cancelled by the caller/);
    await expect(group.run(scenarios, 'throwTyped')).rejects.toBeInstanceOf(QueueFullError);
    await expect(group.run(scenarios, 'noSuchExport')).rejects.toThrow(
      /no exported function 'noSuchExport'/,
    );
    await group.close();
  });
});

describe('agent process (spawned with tsx, loopback member, this namespace)', () => {
  it('starts, serves the protocol, and a kill -9 ends the stream with ConnectionLostError', async () => {
    const group = await spawnRemoteGroup(0, { transport: 'loopback' });
    expect(group.pid).not.toBe(process.pid);
    const got = new Promise<MessageEvent>((resolve) => group.on('message', resolve));
    await group.join('spawned');
    await group.send(enc.encode('hello from a process'));
    const m = await got;
    expect(dec.decode(m.data)).toBe('hello from a process');
    expect(m.sender).toEqual({ nodeid: 0, pid: group.pid });
    const pid = await group.run<{ pid: number }>(scenarios, 'countTo', { count: 1 });
    expect(pid.pid).toBe(group.pid);

    const it = group.events();
    await group.kill();
    await expect(it.next()).rejects.toBeInstanceOf(ConnectionLostError);
    const why = await group.closed();
    expect(why).toBeInstanceOf(ConnectionLostError);
    expect(String((why as Error).message)).toMatch(/SIGKILL/);
    expect(group.joined).toBe(false);
    await expect(group.send(enc.encode('late'))).rejects.toThrow(/SIGKILL/);
    await group.close(); // after a kill: still fine
  });

  it('close() ends the process cleanly and the stream without error', async () => {
    const group = await spawnRemoteGroup(0, { transport: 'loopback' });
    await group.join('spawned2');
    await group.close();
    expect(await group.closed()).toBeUndefined();
    expect(() => process.kill(group.pid, 0)).toThrow();
  });
});
