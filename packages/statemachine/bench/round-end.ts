/**
 * What a round's end costs in wall time on persisting replicas: three replicas of a counter
 * with data directories on the in-memory cluster (virtual time); a member joins the group and
 * leaves again (two rounds), then a write must be acknowledged by a majority of `Q`. Each
 * round's end ack waits for the write of the new epoch (proof-gate.ts), the simulation held
 * meanwhile, so the wall time per cycle includes those writes; before the gate the acks went
 * at once and the writes ran behind. Prints the median and p90 wall ms per cycle.
 *
 * ```sh
 * pnpm exec tsx --conditions=@cpgkit/source packages/statemachine/bench/round-end.ts [--cycles N] [--no-data]
 * ```
 * @module
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryCluster } from '@cpgkit/core/testing';
import { ReplicatedStateMachine, type MachineDefinition } from '../src/index.js';

const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(name);
  return i < 0 ? dflt : Number(process.argv[i + 1]);
};
const cycles = arg('--cycles', 100);
const persisting = !process.argv.includes('--no-data');

const counter: MachineDefinition<{ n: number }, { add: number }, number> = {
  name: 'counter',
  initial: () => ({ n: 0 }),
  apply(draft, cmd) {
    draft.n += cmd.add;
    return draft.n;
  },
};

const dir = mkdtempSync(join(tmpdir(), 'cpgkit-round-end-'));
const cluster = new MemoryCluster({ nodes: 3, seed: 1 });
const ms: ReplicatedStateMachine<{ n: number }, { add: number }, number>[] = [];
for (const n of [1, 2, 3])
  ms.push(
    await ReplicatedStateMachine.open(cluster.member(n), counter, {
      checkInterval: 0,
      bootstrap: 'alone',
      syncTimeout: 50,
      ...(persisting ? { dataDir: join(dir, `d${n}`) } : {}),
    }),
  );
await cluster.runUntilIdle({ advanceTime: true, maxTime: 3000 });
const idle = (): Promise<void> => cluster.runUntilIdle({ advanceTime: true, maxTime: 1000 });

const walls: number[] = [];
for (let i = 0; i < cycles; i++) {
  const t0 = performance.now();
  const g = cluster.member(1 + (i % 3));
  await g.join('counter'); // a silent member: the round closes without it after syncTimeout
  await idle();
  await g.leave();
  await idle();
  const done = ms[i % 3]!.dispatch({ add: 1 });
  await idle();
  await done;
  walls.push(performance.now() - t0);
}
walls.sort((a, b) => a - b);
const at = (q: number): string => walls[Math.floor(q * (walls.length - 1))]!.toFixed(2);
console.log(
  `${persisting ? 'persisting' : 'no data dir'}: ${cycles} cycles (2 rounds + 1 write each): wall ms per cycle median ${at(0.5)} p90 ${at(0.9)}`,
);
for (const m of ms) await m.close();
cluster.destroy();
rmSync(dir, { recursive: true, force: true });
