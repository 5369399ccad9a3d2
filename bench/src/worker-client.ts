/**
 * The orchestrator's handle on one worker process: spawn it (inside a corosync node's
 * network namespace for cpgkit), call its workloads, kill it by pid.
 * @module
 */
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { REPLY_PREFIX, type AdapterConfig, type Reply } from './protocol.js';
import { isRunning, startProcess, stopProcess } from './procs.js';
import { repoRoot } from './paths.js';
import { workerBundle } from './worker-bundle.js';

/**
 * Node's flags for a worker, then the bundle (see worker-bundle.ts: plain node, no tsx).
 * `BENCH_WORKER_FLAGS` adds flags of its own (space-separated), for diagnosis: e.g.
 * `--cpu-prof --cpu-prof-dir=/tmp/prof` profiles every worker.
 */
async function workerArgs(): Promise<string[]> {
  const extra = process.env.BENCH_WORKER_FLAGS?.split(' ').filter(Boolean) ?? [];
  return ['--expose-gc', ...extra, await workerBundle()];
}

/** How long a closed worker gets to exit by itself before it is sent SIGTERM. */
const EXIT_GRACE_MS = 3000;

/** One worker process. */
export class Worker {
  readonly label: string;
  readonly node: number;
  readonly #child: ChildProcess;
  readonly #pending = new Map<
    number,
    { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }
  >();
  #nextId = 1;
  #exited: Error | undefined;
  #killed = false;
  readonly #stderrTail: string[] = [];
  /** The worker's own pid (inside a namespace, the same number: no pid namespace). */
  pid = 0;

  private constructor(label: string, node: number, child: ChildProcess) {
    this.label = label;
    this.node = node;
    this.#child = child;
    const out = createInterface({ input: child.stdout! });
    out.on('line', (line) => {
      if (!line.startsWith(REPLY_PREFIX)) {
        if (line.trim()) console.error(`[${label}] ${line}`);
        return;
      }
      const r = JSON.parse(line.slice(REPLY_PREFIX.length)) as Reply;
      const p = this.#pending.get(r.id);
      if (!p) return;
      this.#pending.delete(r.id);
      clearTimeout(p.timer);
      if (r.ok) p.resolve(r.result);
      else p.reject(new Error(`${label}: ${r.error}`));
    });
    const err = createInterface({ input: child.stderr! });
    err.on('line', (line) => {
      this.#stderrTail.push(line);
      if (this.#stderrTail.length > 20) this.#stderrTail.shift();
      if (process.env.BENCH_VERBOSE) console.error(`[${label}] ${line}`);
    });
    // a worker that died must not take the orchestrator with it (EPIPE on a late write)
    child.stdin!.on('error', () => undefined);
    child.once('exit', (code, signal) => {
      const tail = this.#killed
        ? ''
        : this.#stderrTail
            .filter((l) => l.trim())
            .slice(-8)
            .join(' | ');
      this.#exited = new Error(`${label} exited (${code ?? signal})${tail ? `: ${tail}` : ''}`);
      for (const p of this.#pending.values()) {
        clearTimeout(p.timer);
        p.reject(this.#exited);
      }
      this.#pending.clear();
    });
  }

  /**
   * Start a worker for `config` as node `node` (cpgkit: inside that node's namespace) and open
   * its adapter. Returns the worker and what `open` reported.
   */
  static async start(
    config: AdapterConfig,
    node: number,
    timeoutMs = 60_000,
  ): Promise<{ worker: Worker; openMs: number; rss: number }> {
    const label = `${config.system}@${node}`;
    const opts = {
      cwd: repoRoot,
      stdio: ['pipe', 'pipe', 'pipe'] as ['pipe', 'pipe', 'pipe'],
      env: process.env,
    };
    const args = await workerArgs();
    const child =
      config.system === 'cpgkit'
        ? startProcess(
            label,
            'bash',
            ['scripts/cluster', 'exec', String(node), process.execPath, ...args],
            opts,
          )
        : startProcess(label, process.execPath, args, opts);
    const worker = new Worker(label, node, child);
    try {
      const opened = await worker.call<{ pid: number; openMs: number; rss: number }>(
        'open',
        config,
        timeoutMs,
      );
      worker.pid = opened.pid;
      return { worker, openMs: opened.openMs, rss: opened.rss };
    } catch (error) {
      await worker.kill();
      throw error;
    }
  }

  /** Call `op` in the worker; rejects on its error, its exit, or after `timeoutMs`. */
  call<T>(op: string, args?: unknown, timeoutMs = 120_000): Promise<T> {
    if (this.#exited) return Promise.reject(this.#exited);
    const id = this.#nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`${this.label}: ${op} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      this.#child.stdin!.write(`${JSON.stringify({ id, op, args })}\n`);
    });
  }

  /** Whether the process still runs. */
  get running(): boolean {
    return isRunning(this.#child);
  }

  /** kill -9 by pid, now (the failover scenarios): returns once it exited. */
  async kill(): Promise<void> {
    this.#killed = true;
    await stopProcess(this.#child, 'SIGKILL');
  }

  /** Ask it to close its adapter and exit; kill it if it does not within `timeoutMs`. */
  async close(timeoutMs = 5000): Promise<void> {
    if (!this.running) return;
    await this.call('close', undefined, timeoutMs).catch(() => undefined);
    this.#child.stdin?.end();
    // it exits by itself once closed: let it (a profile of --cpu-prof is written on the way out)
    await this.#exitedWithin(EXIT_GRACE_MS);
    await stopProcess(this.#child, 'SIGTERM', timeoutMs);
  }

  #exitedWithin(ms: number): Promise<void> {
    if (!this.running) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.#child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
