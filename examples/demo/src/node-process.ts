/**
 * A demo node process on real corosync: started by the demo inside node N's network
 * namespace (`bash scripts/cluster exec N node ... node-process.ts --node N --group G`), it
 * runs a `NodeAgent` on the local corosync daemon and serves the line protocol of `rpc.ts`
 * on stdin/stdout. Diagnostics go to stderr.
 * @module
 */
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { corosync } from '@cpgkit/core';
import { NodeAgent } from './agent.js';
import type { Reply, Request } from './rpc.js';

const { values } = parseArgs({
  options: { node: { type: 'string' }, group: { type: 'string' } },
});
const node = Number(values.node);
if (!Number.isInteger(node) || node < 1 || !values.group) {
  process.stderr.write('usage: node-process.ts --node N --group NAME\n');
  process.exit(2);
}

const send = (reply: Reply) => process.stdout.write(`${JSON.stringify(reply)}\n`);

const agent = await NodeAgent.start({ node, transport: corosync(), group: values.group });
agent.onEvent((event) => send({ event }));

async function serve(req: Request): Promise<unknown> {
  const a = req.args;
  switch (req.op) {
    case 'ready':
      return agent.ready(a[0] as number);
    case 'set':
      return agent.set(a[0] as string, a[1]);
    case 'lockTurn':
      return agent.lockTurn(a[0] as string, a[1] as number, a[2] as number);
    case 'row':
      return agent.row();
    case 'digests':
      return agent.digests();
    case 'close':
      await agent.close();
      setImmediate(() => process.exit(0));
      return null;
  }
}

createInterface({ input: process.stdin }).on('line', (line) => {
  const req = JSON.parse(line) as Request;
  serve(req).then(
    (result) => send({ id: req.id, result: result ?? null }),
    (err: unknown) => {
      const e = err instanceof Error ? err : new Error(String(err));
      send({ id: req.id, error: { name: e.name, message: e.message } });
    },
  );
});
// the demo went away (stdin closed): leave the groups and exit
process.stdin.on('end', () => {
  void agent.close().then(() => process.exit(0));
});
