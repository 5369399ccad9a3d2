/**
 * A client process of the real-cluster campaign: the harness starts one per node inside the
 * node's network namespace (`ip netns exec`), so that it talks to that node's corosync. It
 * reads commands on stdin and reports on stdout, JSON lines (`protocol.ts`); it never exits on
 * its own before stdin closes.
 * @module
 */
import { createInterface } from 'node:readline';
import { Connection } from './connection.js';
import { ClientWorkloads } from './client-workloads.js';
import type { FromClient, ToClient } from './protocol.js';

function send(m: FromClient): void {
  process.stdout.write(JSON.stringify(m) + '\n');
}
const log = (message: string): void => send({ type: 'log', message });

let conn: Connection | undefined;
let workloads: ClientWorkloads | undefined;
let running: Promise<void> | undefined;
let stopped = false;
let req = 0;
const fences = new Map<number, (accepted: boolean) => void>();

async function handle(m: ToClient): Promise<void> {
  switch (m.type) {
    case 'ping':
      send({ type: 'pong', id: m.id, ns: process.hrtime.bigint().toString() });
      return;
    case 'start': {
      const c = new Connection(m.group, log, (h) => void workloads!.observe(h));
      conn = c;
      workloads = new ClientWorkloads(
        {
          node: m.node,
          conn: c,
          opTimeout: m.opTimeout,
          readConsistency: m.readConsistency,
          record: (workload, rec) =>
            send({ type: 'record', workload, ns: process.hrtime.bigint().toString(), rec }),
          fence: (process, name, grant, token) =>
            new Promise((resolve) => {
              const id = ++req;
              fences.set(id, resolve);
              send({ type: 'fence', req: id, process, name, grant, token });
            }),
          stopped: () => stopped,
        },
        m.seed,
      );
      c.start();
      running = workloads.run();
      return;
    }
    case 'fenced':
      fences.get(m.req)?.(m.accepted);
      fences.delete(m.req);
      return;
    case 'stop':
      stopped = true;
      await running;
      send({ type: 'stopped', id: m.id });
      return;
    case 'final': {
      const r = await workloads!.final();
      send({ type: 'final', id: m.id, ...r });
      return;
    }
    case 'health': {
      try {
        const res = await fetch(`http://127.0.0.1:${m.port}/healthz`, {
          signal: AbortSignal.timeout(3000),
        });
        send({ type: 'health', id: m.id, status: res.status, body: (await res.text()).trim() });
      } catch (e) {
        send({
          type: 'health',
          id: m.id,
          status: 0,
          body: e instanceof Error ? e.message : String(e),
        });
      }
      return;
    }
  }
}

const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  handle(JSON.parse(line) as ToClient).catch((e: unknown) =>
    log(
      `error handling ${line.slice(0, 80)}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`,
    ),
  );
});
rl.on('close', () => {
  stopped = true;
  void (async () => {
    await running?.catch(() => undefined);
    await conn?.close().catch(() => undefined);
    process.exit(0);
  })();
});
