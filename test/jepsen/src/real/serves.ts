/**
 * The `cpgkit serve` of every node: started by the harness inside the node's namespace
 * (`ip netns exec` execs node, so the child's pid is the agent's), each with its own data
 * directory and `--http 127.0.0.1:PORT` (each namespace has its own loopback), logging JSON to
 * a file. The nemesis kills (SIGKILL), stops (SIGTERM), pauses (SIGSTOP) and resumes them by
 * pid; only processes started here are ever signalled.
 * @module
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { namespaceOf, repoRoot } from './cluster.js';

/** The built `cpgkit` bin (runs dist/). */
export const cliPath = join(repoRoot, 'packages', 'cli', 'bin', 'cpgkit.js');

/** The port of every serve's /healthz, on its namespace's loopback. */
export const HTTP_PORT = 9464;

interface Running {
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
  paused: boolean;
}

/** The serves of one run. */
export class Serves {
  readonly #running = new Map<number, Running>();
  readonly #logs = new Map<number, WriteStream>();

  constructor(
    readonly group: string,
    /** Where node N keeps its data (`DIR/nN`) and log (`DIR/nN.log`). */
    readonly dir: string,
    readonly nodes: number,
  ) {}

  dataDir(node: number): string {
    return join(this.dir, `n${node}`);
  }

  logFile(node: number): string {
    return join(this.dir, `n${node}.log`);
  }

  pid(node: number): number | undefined {
    return this.#running.get(node)?.child.pid;
  }

  running(node: number): boolean {
    return this.#running.has(node);
  }

  /** Start node N's serve (no-op when it runs). */
  start(node: number): void {
    if (this.#running.has(node)) return;
    mkdirSync(this.dataDir(node), { recursive: true });
    let log = this.#logs.get(node);
    if (log === undefined) {
      log = createWriteStream(this.logFile(node), { flags: 'a' });
      this.#logs.set(node, log);
    }
    const child = spawn(
      'ip',
      [
        'netns',
        'exec',
        namespaceOf(node),
        process.execPath,
        cliPath,
        'serve',
        '--group',
        this.group,
        '--data',
        this.dataDir(node),
        '--http',
        `127.0.0.1:${HTTP_PORT}`,
        '--log-format',
        'json',
      ],
      { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child.stdout.pipe(log, { end: false });
    child.stderr.pipe(log, { end: false });
    const exited = new Promise<void>((r) => child.on('close', () => r()));
    const entry: Running = { child, exited, paused: false };
    this.#running.set(node, entry);
    void exited.then(() => {
      if (this.#running.get(node) === entry) this.#running.delete(node);
    });
  }

  /** kill -9 node N's serve; resolves once it is gone. */
  async kill(node: number): Promise<void> {
    const r = this.#running.get(node);
    if (r === undefined) return;
    r.child.kill('SIGKILL');
    await r.exited;
  }

  /** SIGTERM (the agent retires and exits); SIGKILL after `graceMs`. */
  async stop(node: number, graceMs = 15_000): Promise<void> {
    const r = this.#running.get(node);
    if (r === undefined) return;
    if (r.paused) this.resume(node);
    r.child.kill('SIGTERM');
    const t = setTimeout(() => r.child.kill('SIGKILL'), graceMs);
    await r.exited;
    clearTimeout(t);
  }

  pause(node: number): void {
    const r = this.#running.get(node);
    if (r === undefined || r.paused) return;
    r.child.kill('SIGSTOP');
    r.paused = true;
  }

  resume(node: number): void {
    const r = this.#running.get(node);
    if (r === undefined || !r.paused) return;
    r.child.kill('SIGCONT');
    r.paused = false;
  }

  /** Resume and stop every serve, and close the logs. */
  async stopAll(): Promise<void> {
    await Promise.all([...this.#running.keys()].map((n) => this.stop(n)));
    for (const l of this.#logs.values()) l.end();
    this.#logs.clear();
  }
}
