/**
 * What a process used, from /proc: CPU (user and system apart), context switches (voluntary:
 * it blocked, in epoll or in a synchronous IPC call; involuntary: it was preempted), and, with
 * `strace -c -f` attached around a run, its system calls by name. The latency probe prints
 * them per write and per worker (`--per-worker`, `--strace`): a replica's cost on the real
 * path is per wake-up and per system call, which V8's profiler cannot show (it samples wall
 * time) and `perf` cannot either in a VM with only a software clock.
 * @module
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';

/** Counters of one process so far. */
export interface ProcUsage {
  /** CPU ms in user mode and in the kernel (clock ticks of 10 ms). */
  readonly user: number;
  readonly system: number;
  readonly voluntary: number;
  readonly preempted: number;
}

/** `pid`'s counters so far (threads included: /proc/PID/stat sums them). */
export async function procUsage(pid: number): Promise<ProcUsage> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // voluntary/nonvoluntary switches in /proc/PID/status are the main thread's only: sum the tasks
  const tasks = await readFile(`/proc/${pid}/task/${pid}/status`, 'utf8').catch(() => '');
  const status = tasks || (await readFile(`/proc/${pid}/status`, 'utf8'));
  const get = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0);
  return {
    user: Number(f[11]) * 10,
    system: Number(f[12]) * 10,
    voluntary: get('voluntary_ctxt_switches'),
    preempted: get('nonvoluntary_ctxt_switches'),
  };
}

/** `after - before`, divided by `n`. */
export function usagePer(before: ProcUsage, after: ProcUsage, n: number): ProcUsage {
  return {
    user: (after.user - before.user) / n,
    system: (after.system - before.system) / n,
    voluntary: (after.voluntary - before.voluntary) / n,
    preempted: (after.preempted - before.preempted) / n,
  };
}

/** `strace -c -f -p PID` attached to a process; `stop()` detaches and gives calls by name. */
export interface SyscallCount {
  stop(): Promise<Map<string, number>>;
}

/** Attach `strace -c -f` to `pid` (root; strace must be installed). */
export async function countSyscalls(pid: number): Promise<SyscallCount> {
  const child: ChildProcess = spawn('strace', ['-c', '-f', '-p', String(pid)], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let text = '';
  child.stderr!.on('data', (d: Buffer) => (text += d.toString()));
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  // strace says "Process N attached" once per thread it attached to
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, 2000);
    child.stderr!.once('data', () => {
      clearTimeout(timer);
      setTimeout(resolve, 100);
    });
  });
  return {
    async stop() {
      child.kill('SIGINT');
      await closed;
      const calls = new Map<string, number>();
      for (const line of text.split('\n')) {
        // % time     seconds  usecs/call     calls    errors syscall
        const m = /^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?([a-z_0-9]+)\s*$/.exec(line);
        if (m && m[2] !== 'total') calls.set(m[2]!, Number(m[1]));
      }
      return calls;
    },
  };
}
