/**
 * Scenarios for the harness's own tests: run inside an agent through `RemoteGroup.run`.
 * @module
 */
import type { AgentRunContext } from '../agent-server.js';

/** Emits `count` numbers, then returns their sum and the agent's pid. */
export async function countTo(
  args: { count: number },
  ctx: AgentRunContext,
): Promise<{ sum: number; pid: number }> {
  let sum = 0;
  for (let i = 1; i <= args.count; i++) {
    ctx.emit({ i });
    sum += i;
    await new Promise((r) => setTimeout(r, 1));
  }
  return { sum, pid: process.pid };
}

/** Joins `group` with the agent's member, sends `text`, and returns the first message it gets back. */
export async function joinAndEcho(
  args: { group: string; text: string },
  ctx: AgentRunContext,
): Promise<{ sender: { nodeid: number; pid: number }; text: string }> {
  const g = await ctx.member();
  const got = new Promise<{ sender: { nodeid: number; pid: number }; text: string }>((resolve) => {
    const off = g.on('message', (m) => {
      off();
      resolve({ sender: m.sender, text: new TextDecoder().decode(m.data) });
    });
  });
  await g.join(args.group);
  await g.send(new TextEncoder().encode(args.text));
  return got;
}

/** Waits until cancelled; rejects with the abort reason. */
export function waitForCancel(_args: unknown, ctx: AgentRunContext): Promise<never> {
  return new Promise((_, reject) => {
    if (ctx.signal.aborted) reject(ctx.signal.reason as Error);
    ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason as Error), { once: true });
  });
}

/** Throws a typed error from @cpgkit/core. */
export async function throwTyped(): Promise<never> {
  const { QueueFullError } = await import('@cpgkit/core');
  throw new QueueFullError('the queue is full (test)');
}
