/**
 * The in-memory cluster's cost: a 5-node cluster carrying 100,000 messages, at the driver
 * level (each message one CPG message, delivered to 5 members) and through `Group` (64-byte
 * logical messages, batched). Prints the figures; not a test.
 *
 *   pnpm exec tsx --conditions=@cpgkit/source packages/core/test/sim-benchmark.ts
 */
import type { DriverSink } from '../src/driver.js';
import { MemoryCluster } from '../src/testing.js';

const N = 100_000;
const NODES = 5;

function countingSink(counter: { n: number }): DriverSink {
  return {
    message: () => {
      counter.n++;
    },
    membership: () => {},
    totem: () => {},
    quorum: () => {},
    writable: () => {},
    lost: () => {},
  };
}

async function driverLevel(): Promise<void> {
  const cluster = new MemoryCluster({
    nodes: NODES,
    seed: 1,
    queueLimit: 1 << 30,
    queueBytes: 1 << 30,
  });
  const received = { n: 0 };
  const drivers = await Promise.all(
    cluster.nodeIds.map((id) => cluster.processTransport(id).connect(countingSink(received))),
  );
  const name = new TextEncoder().encode('bench');
  for (const d of drivers) d.join(name);
  await cluster.runUntilIdle();
  const payload = new Uint8Array(64);
  const t0 = performance.now();
  for (let i = 0; i < N; i++) drivers[i % NODES]!.mcast([payload]);
  await cluster.runUntilIdle();
  const ms = performance.now() - t0;
  if (received.n !== N * NODES)
    throw new Error(`expected ${N * NODES} deliveries, got ${received.n}`);
  console.log(
    `driver level: ${NODES} nodes, ${N} CPG messages of 64 B from ${NODES} senders, ` +
      `${received.n} deliveries in ${ms.toFixed(0)} ms (${Math.round(N / (ms / 1000))} msg/s)`,
  );
  cluster.destroy();
}

async function groupLevel(): Promise<void> {
  const cluster = new MemoryCluster({ nodes: NODES, seed: 1 });
  const groups = cluster.nodeIds.map((id) => cluster.member(id));
  let received = 0;
  for (const g of groups) g.on('message', () => received++);
  for (const g of groups) await g.join('bench');
  await cluster.runUntilIdle();
  const payload = new Uint8Array(64);
  const t0 = performance.now();
  const sends: Promise<void>[] = [];
  for (let i = 0; i < N; i++) {
    sends.push(groups[0]!.send(payload));
    if (sends.length === 10_000) await Promise.all(sends.splice(0));
  }
  await Promise.all(sends);
  await cluster.runUntilIdle();
  const ms = performance.now() - t0;
  if (received !== N * NODES) throw new Error(`expected ${N * NODES} deliveries, got ${received}`);
  console.log(
    `Group level: ${NODES} members, ${N} logical messages of 64 B (batched), ` +
      `${received} message events in ${ms.toFixed(0)} ms (${Math.round(N / (ms / 1000))} msg/s)`,
  );
  await Promise.all(groups.map((g) => g.close()));
  cluster.destroy();
}

async function groupAwaited(): Promise<void> {
  const cluster = new MemoryCluster({ nodes: NODES, seed: 1 });
  const groups = cluster.nodeIds.map((id) => cluster.member(id));
  let received = 0;
  for (const g of groups) g.on('message', () => received++);
  for (const g of groups) await g.join('bench');
  await cluster.runUntilIdle();
  const payload = new Uint8Array(64);
  const count = 10_000;
  const t0 = performance.now();
  for (let i = 0; i < count; i++) await groups[i % NODES]!.send(payload);
  await cluster.runUntilIdle();
  const ms = performance.now() - t0;
  if (received !== count * NODES) throw new Error(`expected ${count * NODES}, got ${received}`);
  console.log(
    `Group level, each send awaited (one CPG message each): ${count} messages, ` +
      `${received} message events in ${ms.toFixed(0)} ms (${Math.round(count / (ms / 1000))} msg/s)`,
  );
  await Promise.all(groups.map((g) => g.close()));
  cluster.destroy();
}

await driverLevel();
await groupLevel();
await groupAwaited();
