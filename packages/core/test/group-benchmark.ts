/**
 * Logical messages per second through `Group` (batched) on a transport, one sender counting
 * its own deliveries. Prints the figure; not a test. On real corosync, run inside a node:
 *
 *   ip netns exec <node-namespace> pnpm exec tsx --conditions=@cpgkit/source \
 *     packages/core/test/group-benchmark.ts [count] [size] [memory]
 */
import { Group } from '../src/group.js';
import { corosync } from '../src/corosync/transport.js';
import { MemoryCluster } from '../src/testing.js';

const count = Number(process.argv[2] ?? 1_000_000);
const size = Number(process.argv[3] ?? 64);
const memory = process.argv[4] === 'memory';

const cluster = memory ? new MemoryCluster({ nodes: 3 }) : undefined;
const group = new Group(cluster ? cluster.processTransport(1) : corosync());
await group.join(`bench-group-${process.pid}`);
const self = group.self;
let received = 0;
let done: () => void = () => {};
const finished = new Promise<void>((r) => (done = r));
group.on('message', (m) => {
  if (m.sender.pid === self.pid && m.sender.nodeid === self.nodeid && ++received === count) done();
});
const payload = new Uint8Array(size).fill(0x61);
const window = 20_000;
const t0 = performance.now();
let inflight: Promise<void>[] = [];
for (let i = 0; i < count; i++) {
  inflight.push(group.send(payload));
  if (inflight.length >= window) {
    await Promise.all(inflight);
    inflight = [];
  }
}
await Promise.all(inflight);
await finished;
const s = (performance.now() - t0) / 1000;
console.log(
  JSON.stringify({
    transport: group.kind,
    count,
    size,
    seconds: Number(s.toFixed(3)),
    msgsPerSec: Math.round(count / s),
    mbPerSec: Number(((count * size) / s / 1e6).toFixed(1)),
  }),
);
await group.close();
cluster?.destroy();
