/**
 * The config-store example.
 *
 * - In-memory cluster (default): `pnpm --filter @cpgkit/example-config-store start` runs
 *   three nodes in one process on 127.0.0.1:8081, :8082, :8083.
 * - Real corosync: `--corosync --node N --port P`, one process per node, each started in its
 *   node's namespace (`bash scripts/cluster exec N ...`, see the README).
 * @module
 */
import { parseArgs } from 'node:util';
import {
  DEFAULT_GROUP,
  startCorosyncStore,
  startMemoryStore,
  type RunningStore,
} from './cluster.js';

const { values } = parseArgs({
  options: {
    corosync: { type: 'boolean', default: false },
    node: { type: 'string', default: '1' },
    port: { type: 'string', default: '8081' },
    group: { type: 'string', default: DEFAULT_GROUP },
  },
});

const port = Number(values.port);
let store: RunningStore;
if (values.corosync) {
  store = await startCorosyncStore({ node: Number(values.node), port, group: values.group });
} else {
  store = await startMemoryStore({
    ports: port === 0 ? [0, 0, 0] : [port, port + 1, port + 2],
    group: values.group,
  });
}
for (const n of store.nodes) {
  process.stdout.write(
    `node ${n.node}: ${n.url}  (${store.cluster ? 'in-memory cluster' : 'corosync'})\n`,
  );
}
process.stdout.write('ready; Ctrl-C to stop\n');

let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  store.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
