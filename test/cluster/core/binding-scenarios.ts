/**
 * Scenarios for the binding's real-corosync tests, run inside an agent (on a cluster node, in
 * its network namespace) through `RemoteGroup.run`. They use the corosync driver directly
 * (below `Group`) where a test is about the binding itself.
 * @module
 */
import {
  corosync,
  Group,
  openGroup,
  type DriverSink,
  type GroupDriver,
  type MemberChange,
  type MemberId,
} from '@cpgkit/core';
import type { AgentRunContext } from '../harness/agent-server.js';

const enc = new TextEncoder();

/** One recorded driver event, JSON-friendly. */
export type DriverEvent =
  | { type: 'message'; sender: MemberId; text: string }
  | { type: 'membership'; members: MemberId[]; joined: MemberChange[]; left: MemberChange[] }
  | { type: 'totem'; ringNodeid: number; ringSeq: string; nodes: number[] }
  | { type: 'quorum'; quorate: boolean; viewRingSeq?: string; viewNodes?: number[] }
  | { type: 'lost'; name: string; message: string; csError: number | undefined };

/** A sink that records events and lets a caller wait for one that matches. */
function recorder(): {
  sink: DriverSink;
  events: DriverEvent[];
  until(pred: (e: DriverEvent) => boolean, timeoutMs?: number): Promise<DriverEvent>;
} {
  const events: DriverEvent[] = [];
  const waiters: { pred: (e: DriverEvent) => boolean; resolve: (e: DriverEvent) => void }[] = [];
  const push = (e: DriverEvent) => {
    events.push(e);
    for (const w of [...waiters]) {
      if (w.pred(e)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(e);
      }
    }
  };
  const dec = new TextDecoder();
  const sink: DriverSink = {
    message: (sender, data) => push({ type: 'message', sender, text: dec.decode(data) }),
    membership: (members, joined, left) =>
      push({ type: 'membership', members: [...members], joined: [...joined], left: [...left] }),
    totem: (ringId, nodes) =>
      push({
        type: 'totem',
        ringNodeid: ringId.nodeid,
        ringSeq: String(ringId.seq),
        nodes: [...nodes],
      }),
    quorum: (quorate, view) =>
      push(
        view === undefined
          ? { type: 'quorum', quorate }
          : {
              type: 'quorum',
              quorate,
              viewRingSeq: String(view.ringSeq),
              viewNodes: [...view.nodes],
            },
      ),
    writable: () => {},
    lost: (err) =>
      push({ type: 'lost', name: err.name, message: err.message, csError: err.csError }),
  };
  const until = (pred: (e: DriverEvent) => boolean, timeoutMs = 15_000) => {
    const found = events.find(pred);
    if (found) return Promise.resolve(found);
    return new Promise<DriverEvent>((resolve, reject) => {
      const t = setTimeout(
        () => reject(new Error(`timed out; events: ${JSON.stringify(events)}`)),
        timeoutMs,
      );
      waiters.push({
        pred,
        resolve: (e) => {
          clearTimeout(t);
          resolve(e);
        },
      });
    });
  };
  return { sink, events, until };
}

const isSelf = (self: MemberId) => (m: MemberId) => m.nodeid === self.nodeid && m.pid === self.pid;

/**
 * Connect a driver, join, and record what arrives until our join, the initial totem event and
 * the initial quorum are in; then send one message and wait for it. Returns the events in
 * order and the driver's queries.
 */
export async function driverJoin(args: { group: string }): Promise<{
  local: MemberId;
  maxMessageSize: number;
  events: DriverEvent[];
  members: MemberId[];
  groups: { group: string; members: MemberId[] }[];
  quorate: boolean | undefined;
}> {
  const rec = recorder();
  const driver = await corosync().connect(rec.sink);
  try {
    const self = driver.local;
    driver.join(enc.encode(args.group));
    await rec.until((e) => e.type === 'membership' && e.members.some(isSelf(self)));
    await rec.until((e) => e.type === 'totem');
    await rec.until((e) => e.type === 'quorum');
    while (!driver.mcast([enc.encode('hello '), enc.encode('driver')])) {
      await new Promise((r) => setTimeout(r, 5));
    }
    await rec.until((e) => e.type === 'message' && isSelf(self)(e.sender));
    return {
      local: self,
      maxMessageSize: driver.maxMessageSize,
      events: rec.events,
      members: driver.members(),
      groups: driver
        .groups()
        .map((g) => ({ group: Buffer.from(g.group).toString('utf8'), members: [...g.members] })),
      quorate: driver.quorate(),
    };
  } finally {
    driver.close();
    driver.close(); // idempotent
  }
}

/**
 * Flood `count` messages of `size` bytes through a driver opened with `sendWindowBytes:
 * window`: `mcast` until it returns false, resume on `writable()`. Returns how often `mcast`
 * said false (window turns plus any CS_ERR_TRY_AGAIN) and the indexes of our own deliveries,
 * in delivery order.
 */
export async function sendWindow(args: {
  group: string;
  window: number;
  count: number;
  size: number;
}): Promise<{ refusals: number; order: number[] }> {
  let self: MemberId = { nodeid: 0, pid: process.pid };
  let sent = 0;
  let refusals = 0;
  let inGroup = false;
  const order: number[] = [];
  let joined: () => void = () => {};
  let done: () => void = () => {};
  let fail: (e: unknown) => void = () => {};
  const body = (i: number) => {
    const b = new Uint8Array(args.size);
    new DataView(b.buffer).setUint32(0, i);
    return b;
  };
  const pump = () => {
    while (sent < args.count) {
      if (!driver.mcast([body(sent)])) {
        refusals++;
        return;
      }
      sent++;
    }
  };
  const sink: DriverSink = {
    message(sender, data) {
      if (sender.nodeid !== self.nodeid || sender.pid !== self.pid) return;
      order.push(new DataView(data.buffer, data.byteOffset, data.byteLength).getUint32(0));
      if (order.length === args.count) done();
    },
    membership(members) {
      if (!inGroup && members.some(isSelf(self))) {
        inGroup = true;
        joined();
      }
    },
    totem() {},
    quorum() {},
    writable() {
      try {
        pump();
      } catch (e) {
        fail(e);
      }
    },
    lost: (e) => fail(e),
  };
  const isJoined = new Promise<void>((resolve) => (joined = resolve));
  const driver = await corosync({ sendWindowBytes: args.window }).connect(sink);
  try {
    self = driver.local;
    driver.join(enc.encode(args.group));
    await isJoined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const all = new Promise<void>((resolve, reject) => {
      done = resolve;
      fail = reject;
      timer = setTimeout(
        () => reject(new Error(`timed out after ${order.length} deliveries`)),
        30_000,
      );
    });
    try {
      pump();
      await all;
    } finally {
      clearTimeout(timer);
    }
    return { refusals, order };
  } finally {
    driver.close();
  }
}

/** Two connections of one process join the same group: the second gets `AlreadyJoinedError`. */
export async function secondJoin(args: {
  group: string;
}): Promise<{ first: string; second: string }> {
  const a = recorder();
  const b = recorder();
  const d1 = await corosync().connect(a.sink);
  const d2 = await corosync().connect(b.sink);
  try {
    d1.join(enc.encode(args.group));
    let second = 'joined';
    try {
      d2.join(enc.encode(args.group));
    } catch (err) {
      second = (err as Error).name;
    }
    return { first: 'joined', second };
  } finally {
    d1.close();
    d2.close();
  }
}

/** Names that must fail before any C call, and a call on a closed driver. */
export async function badInputs(): Promise<Record<string, string>> {
  const rec = recorder();
  const driver = await corosync().connect(rec.sink);
  const out: Record<string, string> = {};
  const attempt = (label: string, fn: () => unknown) => {
    try {
      fn();
      out[label] = 'ok';
    } catch (err) {
      out[label] = (err as Error).name;
    }
  };
  attempt('join129', () => driver.join(new Uint8Array(129).fill(0x61)));
  attempt('joinEmpty', () => driver.join(new Uint8Array(0)));
  attempt('leaveUnjoined', () => driver.leave());
  attempt('membersUnjoined', () => driver.members());
  driver.close();
  attempt('mcastClosed', () => driver.mcast([enc.encode('x')]));
  attempt('joinClosed', () => driver.join(enc.encode('x')));
  const attemptAsync = async (label: string, fn: () => Promise<unknown>) => {
    try {
      await fn();
      out[label] = 'ok';
    } catch (err) {
      out[label] = (err as Error).name;
    }
  };
  await attemptAsync('groupNameTooLong', () =>
    openGroup('é'.repeat(65), { transport: corosync() }),
  );
  const group = await openGroup(`too-large-${process.pid}`, {
    transport: corosync(),
    maxMessageSize: 4096,
  });
  await attemptAsync('groupSendTooLarge', () => group.send(new Uint8Array(4097)));
  await group.close();
  return out;
}

/**
 * A `Group` on corosync before and after its first connection (`groups()`, no join): its
 * member id and the engine's atomic message size.
 */
export async function groupSizes(): Promise<{
  atomicBefore: number | null;
  selfBefore: string;
  atomic: number | null;
  maxMessageSize: number;
  self: MemberId;
}> {
  const g = new Group(corosync());
  try {
    let selfBefore = 'ok';
    try {
      void g.self;
    } catch (err) {
      selfBefore = (err as Error).name;
    }
    const atomicBefore = g.atomicMessageSize ?? null;
    await g.groups();
    return {
      atomicBefore,
      selfBefore,
      atomic: g.atomicMessageSize ?? null,
      maxMessageSize: g.maxMessageSize,
      self: g.self,
    };
  } finally {
    await g.close();
  }
}

/** A joined member that does nothing for `ms`: the CPU time it used meanwhile (µs). */
export async function idleCpu(
  args: { group: string; ms: number },
  ctx: AgentRunContext,
): Promise<number> {
  const g = await ctx.newMember();
  await g.join(args.group);
  await new Promise((r) => setTimeout(r, 200));
  const before = process.cpuUsage();
  await new Promise((r) => setTimeout(r, args.ms));
  const used = process.cpuUsage(before);
  await g.close();
  return used.user + used.system;
}

/** `dispatch: 'manual'`: nothing arrives until `dispatch(timeoutMs)` is called. */
export async function manualDispatch(args: { group: string }): Promise<{
  beforeDispatch: number;
  joinedAfterDispatch: boolean;
  echoed: string;
  idleDispatch: boolean;
}> {
  const rec = recorder();
  const driver: GroupDriver = await corosync().connect(rec.sink, { dispatch: 'manual' });
  try {
    const self = driver.local;
    driver.join(enc.encode(args.group));
    await new Promise((r) => setTimeout(r, 300));
    const beforeDispatch = rec.events.length;
    const deadline = Date.now() + 10_000;
    const pump = (pred: (e: DriverEvent) => boolean) => {
      while (!rec.events.some(pred) && Date.now() < deadline) driver.dispatch(100);
      return rec.events.some(pred);
    };
    const joinedAfterDispatch = pump(
      (e) => e.type === 'membership' && e.members.some(isSelf(self)),
    );
    pump((e) => e.type === 'quorum');
    while (!driver.mcast([enc.encode('manual')])) driver.dispatch(10);
    pump((e) => e.type === 'message');
    const m = rec.events.find((e) => e.type === 'message');
    const idleDispatch = driver.dispatch(0);
    return {
      beforeDispatch,
      joinedAfterDispatch,
      echoed: m?.type === 'message' ? m.text : '',
      idleDispatch,
    };
  } finally {
    driver.close();
  }
}

/**
 * A `Group` in `dispatch: 'manual'` mode joins (and waits until the group has `members`
 * members), leaves, and dispatches its own leave; emits `{ left: true }`, then goes on
 * dispatching for `listenMs` while the caller makes the group busy. corosync 3.1.7 still
 * delivers the group's events to the handle: returns what the Group emitted from its leave on.
 */
export async function manualLeaveDeaf(
  args: { group: string; members: number; listenMs: number },
  ctx: AgentRunContext,
): Promise<{ afterLeave: string[]; joinedAfterLeave: boolean }> {
  const g = new Group(corosync(), { dispatch: 'manual' });
  const events: string[] = [];
  g.on('membership', (e) => events.push(`membership ${e.members.length}`));
  g.on('message', (m) => events.push(`message ${new TextDecoder().decode(m.data)}`));
  g.on('totem', (e) => events.push(`totem ${e.nodes.join(',')}`));
  g.on('quorum', (e) => events.push(`quorum ${e.quorate}`));
  const pumpUntil = (pred: () => boolean, ms = 15_000) => {
    const deadline = Date.now() + ms;
    while (!pred() && Date.now() < deadline) g.dispatch(50);
    if (!pred()) throw new Error(`timed out; events: ${JSON.stringify(events)}`);
  };
  try {
    await g.join(args.group);
    pumpUntil(() => g.members().length === args.members);
    const mark = events.length;
    await g.leave();
    pumpUntil(() => events.length > mark && !g.members().some(isSelf(g.self)));
    const afterLeave = events.slice(mark);
    ctx.emit({ left: true });
    const until = Date.now() + args.listenMs;
    while (Date.now() < until) {
      g.dispatch(50);
      await new Promise((r) => setImmediate(r)); // let the agent answer the caller
    }
    return {
      afterLeave: [...afterLeave, ...events.slice(mark + afterLeave.length)],
      joinedAfterLeave: g.joined,
    };
  } finally {
    await g.close();
  }
}

/** Join with a driver, emit `{ ready }`, then wait until the connection is lost; returns the `lost` event. */
export async function untilLost(
  args: { group: string },
  ctx: AgentRunContext,
): Promise<DriverEvent> {
  const rec = recorder();
  const driver = await corosync().connect(rec.sink);
  const self = driver.local;
  driver.join(enc.encode(args.group));
  await rec.until((e) => e.type === 'membership' && e.members.some(isSelf(self)));
  ctx.emit({ ready: true });
  const lost = await rec.until((e) => e.type === 'lost', 60_000);
  let after = 'ok';
  try {
    driver.mcast([enc.encode('after')]);
  } catch (err) {
    after = (err as Error).name;
  }
  driver.close();
  ctx.emit({ mcastAfterLost: after });
  return lost;
}

/**
 * Close the driver from inside a deliver callback while more messages are pending in the same
 * `cpg_dispatch`: the finalize is deferred until dispatch returns, no sink call follows, and
 * the process goes on. Then open a new connection in the same process and use it.
 */
export async function closeInsideCallback(args: { group: string }): Promise<{
  deliveredBeforeClose: number;
  callsAfterClose: number;
  reopenedEcho: boolean;
}> {
  let closedAt = -1;
  let calls = 0;
  const ref: { driver?: GroupDriver } = {};
  let joinedResolve: () => void = () => {};
  const joinedP = new Promise<void>((r) => (joinedResolve = r));
  let delivered = 0;
  const sink: DriverSink = {
    message: () => {
      calls++;
      delivered++;
      if (delivered === 5) {
        ref.driver!.close();
        closedAt = calls;
      }
    },
    membership: (members) => {
      calls++;
      if (members.some(isSelf(ref.driver!.local))) joinedResolve();
    },
    totem: () => void calls++,
    quorum: () => void calls++,
    writable: () => {},
    lost: () => void calls++,
  };
  const driver = await corosync().connect(sink);
  ref.driver = driver;
  driver.join(enc.encode(args.group));
  await joinedP;
  // many messages, sent before we dispatch again: they arrive in one cpg_dispatch
  let sent = 0;
  while (sent < 50) {
    if (driver.mcast([enc.encode(`m${sent}`)])) sent++;
    else await new Promise((r) => setTimeout(r, 1));
  }
  await new Promise((r) => setTimeout(r, 500));
  const callsAfterClose = calls - closedAt;
  // a new connection in the same process works, and can join the same group again
  const rec = recorder();
  const again = await corosync().connect(rec.sink);
  try {
    again.join(enc.encode(args.group));
    await rec.until((e) => e.type === 'membership' && e.members.some(isSelf(again.local)));
    while (!again.mcast([enc.encode('again')])) await new Promise((r) => setTimeout(r, 5));
    const echo = await rec.until((e) => e.type === 'message' && e.text === 'again');
    return {
      deliveredBeforeClose: delivered,
      callsAfterClose,
      reopenedEcho: echo.type === 'message',
    };
  } finally {
    again.close();
  }
}
