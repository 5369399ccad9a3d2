/**
 * CPU per replica per `set` for a fixed amount of work: three `ReplicatedMap`s on the
 * in-memory cluster in one process, 256 writers on each, every writer doing `--sets N` sets
 * (40) over `--keys K` keys of its own (64: 30,720 keys in all after 40; up to 49,152 past 64),
 * after a warm-up of 8 sets per writer. Prints the process's CPU (user + system) over the
 * measured sets, divided by 3 replicas and by the sets, in µs.
 *
 * The same work every run (no duration: `kv.ts` counts what a fixed time gave, so how the
 * writes batched under the machine's load changes the work it measures), so that runs
 * alternating between two trees on a loaded machine compare the code, not the load.
 *
 * ```sh
 * pnpm exec tsx --conditions=@cpgkit/source packages/statemachine/bench/fixed-work.ts [--sets N] [--keys K]
 * ```
 * @module
 */
import { MemoryCluster } from '@cpgkit/core/testing';
import { ReplicatedMap } from '../src/index.js';

const at = process.argv.indexOf('--sets');
const perWriter = at < 0 ? 40 : Number(process.argv[at + 1]);
if (!Number.isSafeInteger(perWriter) || perWriter <= 0) throw new Error('--sets wants a count');
const k = process.argv.indexOf('--keys');
const keys = k < 0 ? 64 : Number(process.argv[k + 1]);
if (!Number.isSafeInteger(keys) || keys <= 0) throw new Error('--keys wants a count');

const WRITERS = 256;
const cluster = new MemoryCluster({ nodes: 3, seed: 1 });
const maps: ReplicatedMap[] = [];
for (const n of [1, 2, 3]) maps.push(await ReplicatedMap.open(cluster.member(n)));
for (const kv of maps) await kv.ready();

/** `sets` sets by each writer of each replica; resolves with how many were done. */
async function run(sets: number): Promise<number> {
  let done = 0;
  await Promise.all(
    maps.flatMap((kv, m) =>
      Array.from({ length: WRITERS }, async (_, w) => {
        for (let i = 0; i < sets; i++) {
          await kv.set(`tp/${m}/${w}/${i % keys}`, { n: i, pad: 'abcdefghijklmnopqrstuvwx' });
          done++;
        }
      }),
    ),
  );
  return done;
}

await run(8);
const cpu0 = process.cpuUsage();
const done = await run(perWriter);
const cpu = process.cpuUsage(cpu0);
const us = (cpu.user + cpu.system) / 3 / done;
console.log(
  `${done} sets: CPU per replica per set ${us.toFixed(2)} µs (3 replicas in one process)`,
);
for (const kv of maps) await kv.close();
cluster.destroy();
