/**
 * Every process the benchmark starts is registered here and stopped by its pid: on normal
 * completion, on error (callers use try/finally), and on SIGINT/SIGTERM/exit.
 * @module
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

const live = new Map<number, { child: ChildProcess; name: string }>();

/** Start `command` and register it; it is killed (by pid) when the benchmark ends. */
export function startProcess(
  name: string,
  command: string,
  args: readonly string[],
  options: SpawnOptions = {},
): ChildProcess {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  // a command that cannot be started (ENOENT, EACCES) emits 'error' on a later tick: without a
  // listener that would crash the whole benchmark; callers learn of it from the throw below
  child.on('error', () => {});
  if (child.pid === undefined) throw new Error(`could not start ${name} (${command})`);
  const pid = child.pid;
  live.set(pid, { child, name });
  child.once('exit', () => live.delete(pid));
  return child;
}

/** Whether the registered process `pid` still runs. */
export function isRunning(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

/** Send `signal` to `child` by pid and wait up to `timeoutMs` for it to exit (then SIGKILL). */
export async function stopProcess(
  child: ChildProcess,
  signal: NodeJS.Signals = 'SIGTERM',
  timeoutMs = 5000,
): Promise<void> {
  if (!isRunning(child) || child.pid === undefined) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    process.kill(child.pid, signal);
  } catch {
    return;
  }
  const timer = setTimeout(() => {
    if (isRunning(child) && child.pid !== undefined) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  }, timeoutMs);
  await exited;
  clearTimeout(timer);
}

/** Stop every registered process (SIGTERM, then SIGKILL after a grace period). */
export async function stopAll(timeoutMs = 3000): Promise<void> {
  await Promise.all(
    [...live.values()].map(({ child }) => stopProcess(child, 'SIGTERM', timeoutMs)),
  );
}

/** Synchronous last resort on process exit: SIGKILL whatever is still registered. */
function killAllNow(): void {
  for (const pid of live.keys()) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
}

let installed = false;

/**
 * Install SIGINT/SIGTERM/exit handlers that stop every registered process and then run
 * `cleanup` (bounded), so an interrupted benchmark leaves nothing running.
 */
export function installSignalHandlers(cleanup: () => Promise<void>): void {
  if (installed) return;
  installed = true;
  process.once('exit', killAllNow);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      console.error(`\nbench: ${signal}: stopping every process we started...`);
      const hardStop = setTimeout(() => process.exit(130), 20_000);
      hardStop.unref();
      void stopAll()
        .then(cleanup)
        .catch((error: unknown) => console.error('bench: cleanup failed:', error))
        .finally(() => process.exit(130));
    });
  }
}

/** Run `command` to completion; resolves with its stdout, rejects on a non-zero exit or timeout. */
export async function run(
  command: string,
  args: readonly string[],
  options: { timeoutMs?: number; env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Promise<string> {
  const child = startProcess(`${command} ${args.join(' ')}`, command, args, {
    env: options.env ?? process.env,
    cwd: options.cwd,
  });
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const timeoutMs = options.timeoutMs ?? 120_000;
  return new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      void stopProcess(child, 'SIGKILL');
      reject(new Error(`${command} ${args.join(' ')}: timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else
        reject(
          new Error(
            `${command} ${args.join(' ')} exited with ${code ?? signal}: ${(err || out).trim().slice(-2000)}`,
          ),
        );
    });
  });
}

/** Sleep. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Monotonic time in ms (CLOCK_MONOTONIC: the same clock in every process and namespace here). */
export function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** Resident set size (bytes) of process `pid`, from /proc. */
export async function rssBytes(pid: number): Promise<number> {
  const { readFile } = await import('node:fs/promises');
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) * 1024;
}
