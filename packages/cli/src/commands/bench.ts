/**
 * `cpgkit bench`: one sender floods a group and counts its own deliveries (the same work as the
 * C reference client in bench/native/cpgbench.c: send until corosync says try again, dispatch
 * when the fd is readable). The rate is measured from the first send to the last own delivery,
 * after a warm-up run.
 *
 * Modes:
 * - default: through `Group` (`openGroup(name, { transport: corosync(), batchBytes: 1 })`),
 *   `--window` sends issued per tick, each its own CPG message (a single message goes out raw,
 *   no header), like the C client that sends until corosync says try again;
 * - `--serial`: one `await send()` at a time;
 * - `--batch`: `--window` sends per tick, packed by `Group` into few CPG messages; the rate
 *   counts logical messages;
 * - `--raw`: the corosync driver alone (`mcast` until it returns false, `writable()` resumes),
 *   to isolate the binding's own cost.
 * @module
 */
import { Option } from 'commander';
import {
  corosync,
  openGroup,
  type DriverSink,
  type GroupDriver,
  type MemberId,
} from '@cpgkit/core';
import { positiveInt, UsageError, type RegisterCommand } from '../util.js';

interface BenchOptions {
  group: string;
  count: number;
  size: number;
  batch?: boolean;
  serial?: boolean;
  window: number;
  raw?: boolean;
  warmup: number;
  sendWindow?: number;
  json?: boolean;
}

/** The result of one timed flood. */
export interface BenchResult {
  readonly msgsPerSec: number;
  readonly mbPerSec: number;
  readonly count: number;
  readonly size: number;
  readonly seconds: number;
  /** CPU time (user + system, all threads) this process spent per message while timed, in µs. */
  readonly cpuUsPerMsg: number;
  readonly mode: 'group' | 'serial' | 'batch' | 'raw';
}

const nonNegativeInt = (flag: string) => (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0)
    throw new UsageError(`${flag} wants an integer >= 0, got '${value}'`);
  return n;
};

/** Registers `cpgkit bench`. */
export const registerBench: RegisterCommand = (program, setExit) => {
  program
    .command('bench')
    .description('flood a group from this process and report its own delivery rate (msgs/s, MB/s)')
    .option('--group <name>', 'the group to flood', 'cpgkit-bench')
    .option('--count <n>', 'messages to time', positiveInt('--count'), 20000)
    .option('--size <bytes>', 'bytes per message', positiveInt('--size'), 64)
    .option('--batch', 'issue --window sends per tick: Group packs them into few CPG messages')
    .option('--window <n>', 'sends issued per tick', positiveInt('--window'), 1000)
    .option('--serial', 'await each send before the next (one send per tick)')
    .option('--raw', 'bypass Group and drive the corosync driver directly (binding cost only)')
    .addOption(
      new Option('--warmup <n>', 'untimed messages first (JIT warm-up)').argParser(
        nonNegativeInt('--warmup'),
      ),
    )
    .addOption(
      new Option(
        '--send-window <bytes>',
        "the corosync transport's sendWindowBytes (0: send until corosync says try again)",
      ).argParser(nonNegativeInt('--send-window')),
    )
    .option('--json', 'print the result as one JSON line')
    .action(async (opts: BenchOptions & { warmup?: number }) => {
      if ([opts.batch, opts.raw, opts.serial].filter(Boolean).length > 1) {
        throw new UsageError('--batch, --serial and --raw exclude each other');
      }
      const options: BenchOptions = { ...opts, warmup: opts.warmup ?? Math.min(opts.count, 5000) };
      const result = opts.raw ? await benchRaw(options) : await benchGroup(options);
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(result)}\n`);
      } else {
        process.stdout.write(
          `${result.mode}: ${result.count} x ${result.size} B in ${result.seconds.toFixed(3)} s: ` +
            `${Math.round(result.msgsPerSec)} msgs/s, ${result.mbPerSec.toFixed(2)} MB/s\n`,
        );
      }
      setExit(0);
    });
};

interface Timed {
  ms: number;
  cpu: NodeJS.CpuUsage;
}

function result(mode: BenchResult['mode'], count: number, size: number, t: Timed): BenchResult {
  const seconds = t.ms / 1000;
  return {
    msgsPerSec: count / seconds,
    mbPerSec: (count * size) / seconds / 1e6,
    count,
    size,
    seconds,
    cpuUsPerMsg: (t.cpu.user + t.cpu.system) / count,
    mode,
  };
}

function transport(o: BenchOptions) {
  return corosync(o.sendWindow === undefined ? {} : { sendWindowBytes: o.sendWindow });
}

function sameMember(a: MemberId, b: MemberId): boolean {
  return a.nodeid === b.nodeid && a.pid === b.pid;
}

/**
 * Flood through `Group`: `--window` sends per tick, each its own CPG message (`batchBytes: 1`),
 * or packed with `--batch`; or one awaited send at a time with `--serial`.
 */
async function benchGroup(o: BenchOptions): Promise<BenchResult> {
  const group = await openGroup(o.group, {
    transport: transport(o),
    ...(o.batch ? {} : { batchBytes: 1 }),
  });
  try {
    const self = group.self;
    const payload = new Uint8Array(o.size).fill(0x78);
    let got = 0;
    let target = 0;
    let done: () => void = () => {};
    group.on('message', (m) => {
      if (sameMember(m.sender, self) && ++got === target) done();
    });
    const timedRun = async (n: number): Promise<Timed> => {
      got = 0;
      target = n;
      const delivered = new Promise<void>((resolve) => (done = resolve));
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      if (o.serial) {
        for (let i = 0; i < n; i++) await group.send(payload);
      } else {
        for (let i = 0; i < n;) {
          const end = Math.min(n, i + o.window);
          // sends packed into one CPG message share one promise: await each distinct one
          // (unbatched, every send has its own: awaiting the last one is enough, they go in order)
          const window: Promise<void>[] = [];
          let last: Promise<void> | undefined;
          for (; i < end; i++) {
            const p = group.send(payload);
            if (o.batch && p !== last) window.push(p);
            last = p;
          }
          if (!o.batch) window.push(last!);
          await Promise.all(window);
        }
      }
      await delivered;
      return { ms: performance.now() - t0, cpu: process.cpuUsage(c0) };
    };
    if (o.warmup > 0) await timedRun(o.warmup);
    const mode = o.batch ? 'batch' : o.serial ? 'serial' : 'group';
    return result(mode, o.count, o.size, await timedRun(o.count));
  } finally {
    await group.close();
  }
}

/** Flood through the driver alone: `mcast` until it returns false, resume on `writable()`. */
async function benchRaw(o: BenchOptions): Promise<BenchResult> {
  const parts = [new Uint8Array(o.size).fill(0x78)];
  const ref: { driver?: GroupDriver } = {};
  let self: MemberId = { nodeid: 0, pid: process.pid };
  let sent = 0;
  let target = 0;
  let got = 0;
  let inGroup = false;
  let onJoined: () => void = () => {};
  let done: () => void = () => {};
  let fail: (e: unknown) => void = () => {};
  const pump = () => {
    const d = ref.driver!;
    while (sent < target && d.mcast(parts)) sent++;
  };
  const sink: DriverSink = {
    message(sender) {
      if (sameMember(sender, self) && ++got === target) done();
    },
    membership(members) {
      if (!inGroup && members.some((m) => sameMember(m, self))) {
        inGroup = true;
        onJoined();
      }
    },
    totem() {},
    quorum() {},
    writable() {
      try {
        pump();
      } catch (e) {
        fail(e);
      }
    },
    lost(e) {
      fail(e);
    },
  };
  const joined = new Promise<void>((resolve) => (onJoined = resolve));
  const driver = await transport(o).connect(sink);
  ref.driver = driver;
  try {
    self = driver.local;
    driver.join(new TextEncoder().encode(o.group));
    await joined;
    const timedRun = async (n: number): Promise<Timed> => {
      sent = got = 0;
      target = n;
      const delivered = new Promise<void>((resolve, reject) => {
        done = resolve;
        fail = reject;
      });
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      pump();
      await delivered;
      return { ms: performance.now() - t0, cpu: process.cpuUsage(c0) };
    };
    if (o.warmup > 0) await timedRun(o.warmup);
    return result('raw', o.count, o.size, await timedRun(o.count));
  } finally {
    driver.close();
  }
}
