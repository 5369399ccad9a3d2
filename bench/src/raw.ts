/**
 * The raw messaging benchmark: cpgkit against a plain C libcpg client, side by side in one run.
 *
 * Run inside node 1's network namespace of a running cluster:
 *
 * ```
 * bash scripts/cluster up
 * bash scripts/cluster exec 1 node_modules/.bin/tsx --conditions=@cpgkit/source bench/src/raw.ts
 * ```
 *
 * For each size (64 B, 1 KB, 10 KB by default) and each of `--rounds` rounds, it runs, in an
 * order that alternates between rounds: the C client (`bench/native/cpgbench bench`, compiled
 * by build.sh), `cpgkit bench` (through `Group`, one send per CPG message) and `cpgkit bench
 * --raw` (the driver alone) and `koffi-floor.ts` (C's loop over koffi with no cpgkit code: what
 * Node and koffi cost by themselves). Each is a fresh process that does the same work: one sender
 * floods the group (send until try-again, dispatch when the fd is readable) and counts its own
 * deliveries, after an untimed warm-up. Then, at 64 B, `cpgkit bench --batch` (many sends per
 * tick, packed by `Group` into few CPG messages) is compared with the unbatched C rate.
 *
 * Prints a table, then the whole result as ONE JSON line (the last line of stdout), for
 * `pnpm bench` to fold in. Targets: cpgkit/C >= 0.9 at 64 B and 10 KB; batched >= 10x C.
 * @module
 */
import { spawn } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '../..');
const floorScript = resolve(here, 'koffi-floor.ts');

interface Args {
  rounds: number;
  sizes: number[];
  group: string;
  batchCount: number;
  scale: number;
}

function parseArgs(argv: string[]): Args {
  const args: Args = {
    rounds: 5,
    sizes: [64, 1024, 10240],
    group: 'cpgkit-raw-bench',
    batchCount: 1_000_000,
    scale: 1,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = argv[i + 1];
    if (a === '--rounds' && v) args.rounds = Number(argv[++i]);
    else if (a === '--sizes' && v) args.sizes = argv[++i]!.split(',').map(Number);
    else if (a === '--group' && v) args.group = argv[++i]!;
    else if (a === '--batch-count' && v) args.batchCount = Number(argv[++i]);
    else if (a === '--scale' && v) args.scale = Number(argv[++i]);
    else {
      process.stderr.write(
        'usage: raw.ts [--rounds N] [--sizes 64,1024,10240] [--group G] [--batch-count N] [--scale F]\n',
      );
      process.exit(2);
    }
  }
  if (!(args.rounds >= 1) || args.sizes.some((s) => !(s >= 1)) || !(args.scale > 0)) {
    process.stderr.write('raw.ts: --rounds, --sizes and --scale must be positive\n');
    process.exit(2);
  }
  return args;
}

/** Messages per timed run: about half a second of work for the C client on a small machine. */
function countFor(size: number, scale: number): number {
  const base = size <= 256 ? 50_000 : size <= 4096 ? 40_000 : 15_000;
  return Math.max(1000, Math.round(base * scale));
}

interface Rate {
  msgsPerSec: number;
  mbPerSec: number;
  /** CPU (user + system) the client spent per message while timed, µs. */
  cpuUsPerMsg: number;
}

function run(cmd: string, args: string[]): Promise<Rate> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const last = out.trim().split('\n').pop() ?? '';
      if (code !== 0) {
        reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${err.trim() || last}`));
        return;
      }
      try {
        const r = JSON.parse(last) as Rate;
        resolvePromise({
          msgsPerSec: r.msgsPerSec,
          mbPerSec: r.mbPerSec,
          cpuUsPerMsg: r.cpuUsPerMsg,
        });
      } catch {
        reject(new Error(`${cmd}: no JSON result on the last line: ${last}`));
      }
    });
  });
}

function buildC(): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn('bash', [resolve(repo, 'bench/native/build.sh')], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('close', (code) =>
      code === 0 ? resolvePromise(out.trim()) : reject(new Error('build.sh failed')),
    );
  });
}

/** `cpgkit bench ARGS` from source (tsx), as a fresh process. */
function cpgkit(args: string[]): Promise<Rate> {
  const code =
    "const { main } = await import('@cpgkit/cli'); process.exitCode = await main(process.argv.slice(1));";
  return run(process.execPath, [
    '--import',
    'tsx',
    '--conditions=@cpgkit/source',
    '--input-type=module',
    '-e',
    code,
    'bench',
    ...args,
    '--json',
  ]);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US').padStart(10);

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const cbench = await buildC();
  const sizes: Record<string, unknown> = {};
  const log = (s: string) => process.stdout.write(`${s}\n`);
  log(
    `raw messaging benchmark: ${args.rounds} alternating rounds, group ${args.group}, one sender`,
  );
  let cAt64: number[] = [];
  for (const size of args.sizes) {
    const count = String(countFor(size, args.scale));
    const common = ['--group', args.group, '--count', count, '--size', String(size)];
    const runs = {
      c: () => run(cbench, ['bench', ...common]),
      group: () => cpgkit(common),
      raw: () => cpgkit([...common, '--raw']),
      floor: () => run(process.execPath, ['--import', 'tsx', floorScript, ...common]),
    };
    const rates: Record<keyof typeof runs, number[]> = { c: [], group: [], raw: [], floor: [] };
    const cpu: Record<keyof typeof runs, number[]> = { c: [], group: [], raw: [], floor: [] };
    const order: (keyof typeof runs)[] = ['c', 'group', 'raw', 'floor'];
    for (let r = 0; r < args.rounds; r++) {
      const seq = r % 2 === 0 ? order : [...order].reverse();
      for (const k of seq) {
        const r = await runs[k]();
        rates[k].push(r.msgsPerSec);
        cpu[k].push(r.cpuUsPerMsg);
      }
    }
    const c = median(rates.c);
    const g = median(rates.group);
    const w = median(rates.raw);
    const f = median(rates.floor);
    const pairs = rates.group.map((x, i) => x / rates.c[i]!);
    if (size === 64) cAt64 = rates.c;
    log(
      `${String(size).padStart(6)} B  C ${fmt(c)} msg/s  cpgkit ${fmt(g)} msg/s (x${(g / c).toFixed(2)}, ` +
        `paired median x${median(pairs).toFixed(2)})  driver ${fmt(w)} msg/s (x${(w / c).toFixed(2)})  ` +
        `koffi floor ${fmt(f)} msg/s (x${(f / c).toFixed(2)})`,
    );
    log(
      `          CPU per message: C ${median(cpu.c).toFixed(1)} µs, cpgkit ${median(cpu.group).toFixed(1)} µs, ` +
        `driver ${median(cpu.raw).toFixed(1)} µs, koffi floor ${median(cpu.floor).toFixed(1)} µs`,
    );
    sizes[String(size)] = {
      count: Number(count),
      c: { median: c, runs: rates.c, cpuUsPerMsg: median(cpu.c) },
      cpgkit: { median: g, runs: rates.group, cpuUsPerMsg: median(cpu.group) },
      driver: { median: w, runs: rates.raw, cpuUsPerMsg: median(cpu.raw) },
      floor: { median: f, runs: rates.floor, cpuUsPerMsg: median(cpu.floor) },
      ratio: g / c,
      pairedRatio: median(pairs),
      driverRatio: w / c,
      floorRatio: f / c,
    };
  }
  let batch: Record<string, unknown> | undefined;
  if (args.batchCount > 0) {
    const logical: number[] = [];
    const cRates = [...cAt64];
    for (let r = 0; r < Math.max(1, Math.ceil(args.rounds / 2)); r++) {
      logical.push(
        (
          await cpgkit([
            '--group',
            args.group,
            '--count',
            String(args.batchCount),
            '--size',
            '64',
            '--batch',
            '--window',
            '2000',
          ])
        ).msgsPerSec,
      );
      if (cRates.length === 0) {
        cRates.push(
          (await run(cbench, ['bench', '--group', args.group, '--count', '50000', '--size', '64']))
            .msgsPerSec,
        );
      }
    }
    const b = median(logical);
    const c = median(cRates);
    log(
      `    64 B  batched cpgkit ${fmt(b)} logical msg/s = x${(b / c).toFixed(1)} the unbatched C rate`,
    );
    batch = { logicalMsgsPerSec: b, runs: logical, cMsgsPerSec: c, ratio: b / c };
  }
  log(JSON.stringify({ benchmark: 'raw', rounds: args.rounds, sizes, batch }));
}

await main();
