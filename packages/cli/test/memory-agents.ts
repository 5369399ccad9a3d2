/**
 * Test helper: one `Agent` (what `cpgkit serve` runs) per node of an in-memory cluster, and
 * `main()` run as a process on a node (`cliTransport` pointed at the cluster).
 */
import { Writable } from 'node:stream';
import type { GroupTransport } from '@cpgkit/core';
import type { MemoryCluster } from '@cpgkit/core/testing';
import { Agent } from '../src/agent/agent.js';
import { groupNames } from '../src/agent/group-names.js';
import { createLogger } from '../src/agent/logger.js';
import { cliTransport } from '../src/clients.js';
import { main } from '../src/main.js';

/** Log lines of an agent, kept for assertions. */
export class LogLines extends Writable {
  readonly lines: string[] = [];
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    for (const l of chunk.toString('utf8').split('\n')) if (l !== '') this.lines.push(l);
    done();
  }
}

/** An agent on node `n` of `cluster` for group `group`, started. */
export function startAgent(
  cluster: MemoryCluster,
  n: number,
  group: string,
  options: { dataDir?: string; format?: 'text' | 'json'; bootstrapAlone?: boolean } = {},
): { agent: Agent; log: LogLines } {
  const log = new LogLines();
  const agent = new Agent({
    names: groupNames(group),
    open: () => cluster.member(n),
    log: createLogger(options.format ?? 'json', false, log),
    backoff: 20,
    maxBackoff: 200,
    ...(options.dataDir === undefined ? {} : { dataDir: options.dataDir }),
    ...(options.bootstrapAlone === true ? { bootstrapAlone: true } : {}),
  });
  agent.start();
  return { agent, log };
}

/** Resolves once `agent` has both replicas ready. */
export async function agentReady(agent: Agent, timeoutMs = 10_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const s = agent.state;
    if (
      s.kind === 'running' &&
      s.replicas.kv.status === 'ready' &&
      s.replicas.locks.status === 'ready'
    )
      return;
    if (performance.now() > deadline) throw new Error(`agent not ready: ${JSON.stringify(s.kind)}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** `cpgkit ARGS...` as a process on node `n`; resolves with the exit code and how long it took. */
export async function cpgkitOn(
  cluster: MemoryCluster,
  n: number,
  args: string[],
): Promise<{ code: number; ms: number }> {
  const real = cliTransport.open;
  cliTransport.open = (): GroupTransport => cluster.member(n);
  const t0 = performance.now();
  try {
    const code = await main(args);
    return { code, ms: performance.now() - t0 };
  } finally {
    cliTransport.open = real;
  }
}
