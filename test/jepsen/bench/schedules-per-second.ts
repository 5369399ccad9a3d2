/**
 * The in-memory campaign's speed, checkouts side by side: runs `pnpm jepsen --memory` (the CLI
 * of each checkout, in its own process) in each checkout in turn, A B A B ..., and prints per
 * run its wall time, its CPU (user + system, every thread of the process), the schedules, the
 * completed operations and the virtual time its report counted; then, per pair, each
 * checkout's schedules/s and operations per CPU second against the first one's.
 *
 * ```sh
 * node --import tsx test/jepsen/bench/schedules-per-second.ts [--pairs 3] [--seeds 60] [--seed 1] \
 *   DIR_A DIR_B [DIR_C ...] [-- CLI ARGS ...]
 * ```
 *
 * A checkout is a worktree with its dependencies installed (`git worktree add --detach DIR
 * <commit>`, `pnpm install --offline` there). Arguments after `--` go to every CLI (for example
 * `--data-dir /dev/shm`, to put every checkout's data on the same file system). Two checkouts
 * whose product behaves differently run different schedules from the same seeds (the histories
 * follow the product): compare the operations per CPU second too, not only the schedules/s.
 * Linux only (the CPU comes from `/proc/self/stat`'s children's times).
 * @module
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

// what follows `--` goes to the CLIs (parseArgs drops the `--` itself from its positionals)
const argv = process.argv.slice(2);
const split = argv.indexOf('--');
const extra = split < 0 ? [] : argv.slice(split + 1);
const { values, positionals } = parseArgs({
  args: split < 0 ? argv : argv.slice(0, split),
  allowPositionals: true,
  options: {
    pairs: { type: 'string', default: '3' },
    seeds: { type: 'string', default: '60' },
    seed: { type: 'string', default: '1' },
  },
});
const dirs = positionals.map((d) => resolve(d));
if (dirs.length < 2) {
  console.error(
    'usage: schedules-per-second.ts [--pairs N] [--seeds N] [--seed S] DIR_A DIR_B [...] [-- CLI ARGS]',
  );
  process.exit(2);
}

/** One run of one checkout's campaign. */
interface Run {
  readonly dir: string;
  readonly wallS: number;
  readonly cpuS: number;
  readonly schedules: number;
  readonly ops: number;
  readonly virtualS: number;
}

/** Children's user + system seconds so far (reaped children only: `/proc/self/stat` 16, 17). */
async function childCpu(): Promise<number> {
  const stat = await readFile('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is the state (field 3): cutime and cstime are fields 16 and 17
  return (Number(fields[13]) + Number(fields[14])) / 100;
}

async function runOnce(dir: string, out: string): Promise<Run> {
  const args = [
    '--conditions=@cpgkit/source',
    '--import',
    'tsx',
    'test/jepsen/src/cli.ts',
    '--memory',
    '--seeds',
    values.seeds,
    '--seed',
    values.seed,
    '--out',
    out,
    ...extra,
  ];
  const cpu0 = await childCpu();
  const t0 = performance.now();
  const code = await new Promise<number | null>((done, fail) => {
    const child = spawn(process.execPath, args, {
      cwd: dir,
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    child.on('error', fail);
    child.on('exit', (c) => done(c));
  });
  const wallS = (performance.now() - t0) / 1000;
  const cpuS = (await childCpu()) - cpu0;
  if (code !== 0 && code !== 1) throw new Error(`${dir}: the campaign exited with ${code}`);
  const report = await readFile(join(out, 'report.md'), 'utf8');
  const schedules = Number(/- schedules: (\d+)/.exec(report)?.[1] ?? NaN);
  const virtualS = Number(/virtual time covered: (\d+) s/.exec(report)?.[1] ?? NaN);
  let ops = 0;
  // | workload | op | ok | fail | unknown | p50 | p99 |
  for (const m of report.matchAll(
    /^\| (?:election|lock|register|set) \| \w+ \| (\d+) \| (\d+) \| (\d+) \|/gm,
  ))
    ops += Number(m[1]) + Number(m[2]) + Number(m[3]);
  return { dir, wallS, cpuS, schedules, ops, virtualS };
}

const load = async (): Promise<string> => (await readFile('/proc/loadavg', 'utf8')).split(' ')[0]!;
const scratch = await mkdtemp(join(tmpdir(), 'jepsen-bench-'));
const name = (d: string): string => basename(d);
const pairs: Run[][] = [];
try {
  for (let p = 1; p <= Number(values.pairs); p++) {
    const runs: Run[] = [];
    for (const [i, dir] of dirs.entries()) {
      const r = await runOnce(dir, join(scratch, `p${p}-${i}`));
      runs.push(r);
      console.log(
        `pair ${p} ${name(dir)}: wall ${r.wallS.toFixed(1)} s, cpu ${r.cpuS.toFixed(1)} s, ` +
          `${r.schedules} schedules, ${r.ops} ops, ${r.virtualS} virtual s (load ${await load()})`,
      );
    }
    pairs.push(runs);
  }
} finally {
  await rm(scratch, { recursive: true, force: true });
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
console.log(
  `\nagainst ${name(dirs[0]!)} (median of the ${pairs.length} pairs' ratios; > 1: faster)`,
);
for (let i = 1; i < dirs.length; i++) {
  const ratio = (f: (r: Run) => number): string =>
    median(pairs.map((runs) => f(runs[i]!) / f(runs[0]!))).toFixed(2);
  console.log(
    `${name(dirs[i]!)}: schedules/s (wall) ${ratio((r) => r.schedules / r.wallS)}x, ` +
      `schedules per CPU s ${ratio((r) => r.schedules / r.cpuS)}x, ` +
      `ops per CPU s ${ratio((r) => r.ops / r.cpuS)}x, ops per wall s ${ratio((r) => r.ops / r.wallS)}x`,
  );
}
