/**
 * `pnpm jepsen --memory --seeds N [--seed S] [--nodes 3|5] [--steps K] [--out DIR]`: a
 * campaign of seeded schedules on the in-memory cluster; writes
 * `test/jepsen/results/<run>/report.md` and the histories, prints every anomaly with its
 * seed and window, and exits 1 if there was one. `CPGKIT_SEED=N` runs that one seed.
 *
 * `pnpm jepsen --real --time S --seed N [--out DIR]`: one campaign on the `scripts/cluster`
 * cluster (as root; CPGKIT_CLUSTER_NODES=5 for five nodes), same report.
 * @module
 */
import { createWriteStream, existsSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { describeFailure, writeReport } from './report.js';
import { runSchedule, type ScheduleOptions, type ScheduleResult } from './sim/run.js';
import { allowedLoss, type AllowedLoss } from './sim/allowed-losses.js';
import { runReal } from './real/run.js';
import { describeRealFailure, writeRealReport } from './real/report.js';

const { values } = parseArgs({
  options: {
    memory: { type: 'boolean', default: false },
    real: { type: 'boolean', default: false },
    time: { type: 'string', default: '120' },
    'op-timeout': { type: 'string', default: '5000' },
    'keep-cluster': { type: 'boolean', default: false },
    seeds: { type: 'string', default: '100' },
    seed: { type: 'string' },
    nodes: { type: 'string' },
    steps: { type: 'string' },
    out: { type: 'string' },
    'data-dir': { type: 'string' },
    'failover-delay': { type: 'string' },
    'stale-reads': { type: 'boolean', default: false },
    upgrade: { type: 'boolean', default: false },
    'lose-writes': { type: 'boolean', default: false },
    'forget-rounds': { type: 'boolean', default: false },
    durability: { type: 'string', default: 'memory' },
    'mid-step-faults': { type: 'boolean', default: false },
    trace: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (values.help || (!values.memory && !values.real)) {
  console.log(
    [
      'usage: pnpm jepsen --memory [--seeds N] [--seed FIRST] [--nodes 3|5] [--steps K] [--out DIR]',
      '         [--data-dir DIR]        where replicas keep their data (default: /dev/shm if there is one, else the temp dir)',
      '         [--failover-delay MS]   the lock machine failoverDelay (default 200)',
      '         [--stale-reads]         register reads local (not linearizable): the checker must object',
      "         [--upgrade]             a rolling upgrade of the lock machine's state format among the faults",
      '         [--lose-writes]         a kill loses the journal write in flight (and all after it); traps on acks too',
      '         [--forget-rounds]       with --lose-writes: also kill replicas with their summary (vote) in flight',
      "         [--durability MODE]     the replicas' durability: memory (default) or fsync (no kill may lose an acknowledged write)",
      "         [--mid-step-faults]     faults in the middle of a protocol step too: a split while a confchg's write is in flight, at a round's proof, a kill during a join's round",
      "         [--trace FILE]          write every replica's log, disk write and history record to FILE, by virtual ms (for a replay: CPGKIT_SEED=N)",
      '  runs N seeded fault schedules on the in-memory cluster',
      '  CPGKIT_SEED=N replays one schedule exactly',
      '',
      'usage: pnpm jepsen --real [--time S] [--seed N] [--out DIR] [--op-timeout MS] [--data-dir DIR] [--keep-cluster] [--stale-reads]',
      '  one campaign on the scripts/cluster cluster (root; CPGKIT_CLUSTER_NAME/SUBNET/NODES as for the script):',
      '  cpgkit serve and a client process on every node, the nemesis for S seconds (default 120), then',
      '  healing, liveness, final reads and the checkers; brings the cluster up (and down) if it is not up',
    ].join('\n'),
  );
  process.exit(values.help ? 0 : 2);
}

if (values.real) {
  const seed = Number(values.seed ?? process.env.CPGKIT_SEED ?? Date.now() % 1_000_000);
  const opTimeout = Number(values['op-timeout']);
  const here = dirname(fileURLToPath(import.meta.url));
  const out =
    values.out ??
    join(
      here,
      '..',
      'results',
      `real-${new Date().toISOString().replace(/[:.]/g, '-')}-seed${seed}`,
    );
  const r = await runReal({
    seed,
    timeMs: Number(values.time) * 1000,
    opTimeout,
    keepCluster: values['keep-cluster'],
    staleReads: values['stale-reads'],
    ...(values['data-dir'] === undefined ? {} : { dir: values['data-dir'] }),
    log: (l) => console.log(`[jepsen ${new Date().toISOString().slice(11, 19)}] ${l}`),
  });
  const path = await writeRealReport(out, r, {
    command: `pnpm jepsen ${process.argv.slice(2).join(' ')}`,
    opTimeout,
  });
  for (const v of r.verdicts)
    console.log(
      `${v.checker}: ${v.valid ? 'valid' : `${v.anomalies.length} anomalies`} ${JSON.stringify(v.stats)}`,
    );
  if (!r.valid) console.log(describeRealFailure(r));
  console.log(`report: ${path}`);
  process.exit(r.valid ? 0 : 1);
}

const durability = values.durability;
if (durability !== 'memory' && durability !== 'fsync') {
  console.error(`--durability must be memory or fsync, not ${durability}`);
  process.exit(2);
}
const replay = process.env.CPGKIT_SEED;
const first = Number(replay ?? values.seed ?? Date.now() % 1_000_000);
const count = replay !== undefined ? 1 : Number(values.seeds);
const nodes = values.nodes === undefined ? undefined : Number(values.nodes);
const steps = values.steps === undefined ? undefined : Number(values.steps);
const here = dirname(fileURLToPath(import.meta.url));
// the replicas' data directories in memory when the machine has a tmpfs, as in the tests: the
// simulation has no disk to lose, and a disk's flushes (each replica's close waits for its
// writes) only cost wall time; the histories are the same on either
const dataDir = values['data-dir'] ?? (existsSync('/dev/shm') ? '/dev/shm' : undefined);
const out =
  values.out ??
  join(here, '..', 'results', `memory-${new Date().toISOString().replace(/[:.]/g, '-')}`);

const options: ScheduleOptions = {
  ...(nodes === undefined ? {} : { nodes }),
  ...(steps === undefined ? {} : { steps }),
  ...(dataDir === undefined ? {} : { dir: dataDir }),
  ...(values['stale-reads'] ? { readConsistency: 'stale' as const } : {}),
  ...(values.upgrade ? { upgrade: true } : {}),
  ...(values['lose-writes'] ? { loseWrites: true } : {}),
  ...(values['lose-writes'] && values['forget-rounds'] ? { forgetRounds: true } : {}),
  ...(durability === 'fsync' ? { durability } : {}),
  ...(values['mid-step-faults'] ? { midStepFaults: true } : {}),
  ...(values['failover-delay'] === undefined
    ? {}
    : { failoverDelay: Number(values['failover-delay']) }),
};
const traceFile = values.trace === undefined ? undefined : createWriteStream(values.trace);
const started = performance.now();
const results: ScheduleResult[] = [];
// schedules whose anomalies are a loss that durability 'memory' allows, analysed one by one
const allowed = new Map<number, AllowedLoss>();
for (let seed = first; seed < first + count; seed++) {
  traceFile?.write(`seed ${seed}\n`);
  const r = await runSchedule(
    seed,
    traceFile === undefined ? options : { ...options, trace: (l) => traceFile.write(`${l}\n`) },
  );
  results.push(r);
  const loss = allowedLoss(r, options);
  if (loss !== undefined) allowed.set(seed, loss);
  if (!r.valid) console.log(describeFailure(r, loss));
  if (results.length % 10 === 0 || results.length === count) {
    const bad = results.filter((x) => !x.valid).length;
    console.log(
      `${results.length}/${count} schedules, ${bad} with anomalies` +
        (allowed.size === 0 ? '' : ` (${allowed.size} allowed in durability 'memory')`) +
        `, ${Math.round((performance.now() - started) / 1000)} s`,
    );
  }
}
const path = await writeReport(out, results, {
  command: `pnpm jepsen ${process.argv.slice(2).join(' ')}${replay === undefined ? '' : ` (CPGKIT_SEED=${replay})`}`,
  wallMs: performance.now() - started,
  allowed,
});
console.log(`report: ${path}`);
if (traceFile !== undefined) await new Promise((r) => traceFile.end(r));
// an allowed loss is reported, not a failure of the run; any other anomaly is
process.exit(results.every((r) => r.valid || allowed.has(r.seed)) ? 0 : 1);
