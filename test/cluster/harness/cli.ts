/**
 * The built `cpgkit` command inside the nodes' network namespaces, as users run it: one-shot
 * commands, long-running ones, and a `cpgkit serve` per node (`Serves`).
 * @module
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { execOnNode, repoRoot, type ClusterEnv, type ScriptResult } from './cluster.js';
import { lineSplitter } from './protocol.js';

/** The command's bin (it runs dist/: call `buildCli` first). */
export const cliPath = join(repoRoot, 'packages', 'cli', 'bin', 'cpgkit.js');

/** Build what changed (the bin runs dist/). */
export async function buildCli(): Promise<void> {
  await promisify(execFile)(
    process.execPath,
    [join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '-b', 'tsconfig.build.json'],
    { cwd: repoRoot },
  );
}

/** A running `cpgkit` process inside a node's namespace. */
export interface CliProcess {
  readonly node: number;
  readonly child: ChildProcess;
  /** `ip netns exec` execs node: this is the cpgkit process's pid. */
  readonly pid: number;
  /** Its exit code (`null` when killed by a signal). */
  readonly exited: Promise<number | null>;
  readonly stdoutLines: string[];
  stderr(): string;
  /** Still running. */
  alive(): boolean;
}

/** Start `cpgkit ARGS...` on `node`. */
export function spawnCli(env: ClusterEnv, node: number, args: readonly string[]): CliProcess {
  const ns = env.nodes.find((n) => n.node === node)!.namespace;
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, cliPath, ...args], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  const stdoutLines: string[] = [];
  child.stdout.on(
    'data',
    lineSplitter((l) => stdoutLines.push(l)),
  );
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number | null>((resolve) =>
    child.on('close', (code) => resolve(code)),
  );
  return {
    node,
    child,
    pid: child.pid!,
    exited,
    stdoutLines,
    stderr: () => stderr,
    alive: () => child.exitCode === null && child.signalCode === null,
  };
}

/** Run `cpgkit ARGS...` on `node` to the end; resolves with its output, code and duration. */
export async function runCli(
  node: number,
  args: readonly string[],
  timeoutMs = 60_000,
): Promise<ScriptResult & { ms: number }> {
  const t0 = performance.now();
  const r = await execOnNode(node, [process.execPath, cliPath, ...args], { timeoutMs });
  return { ...r, ms: performance.now() - t0 };
}

/** Poll `predicate` every 20 ms; reject after `timeoutMs` naming `what`. */
export async function until(
  what: string,
  predicate: () => boolean,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!predicate()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Both replicas of a `cpgkit serve` said `ready` after the log's `from`-th character. */
export function serveReady(p: CliProcess, from = 0): boolean {
  const log = p.stderr().slice(from);
  const last = (re: RegExp): number => {
    let at = -1;
    for (const m of log.matchAll(re)) at = m.index;
    return at;
  };
  const storeReady = last(/store status ready/g);
  const locksReady = last(/locks status ready/g);
  return (
    storeReady >= 0 &&
    locksReady >= 0 &&
    storeReady > last(/store status (syncing|minority|closed)/g) &&
    locksReady > last(/locks status (syncing|minority|closed)/g)
  );
}

/** One `cpgkit serve --group G --data ROOT/nN` per node, started and stopped by the test. */
export class Serves {
  readonly #env: ClusterEnv;
  readonly #group: string;
  readonly #dataRoot: string;
  readonly #extra: readonly string[];
  readonly running = new Map<number, CliProcess>();

  constructor(env: ClusterEnv, group: string, dataRoot: string, extra: readonly string[] = []) {
    this.#env = env;
    this.#group = group;
    this.#dataRoot = dataRoot;
    this.#extra = extra;
  }

  /** Start the serve of `node` (no wait). */
  spawn(node: number): CliProcess {
    if (this.running.get(node)?.alive()) throw new Error(`serve on node ${node} runs already`);
    const p = spawnCli(this.#env, node, [
      'serve',
      '--group',
      this.#group,
      '--data',
      join(this.#dataRoot, this.#group, `n${node}`),
      ...this.#extra,
    ]);
    this.running.set(node, p);
    return p;
  }

  /** Start the serves of `nodes` and wait until every one is ready. */
  async start(...nodes: number[]): Promise<void> {
    const ps = nodes.map((n) => this.spawn(n));
    await Promise.all(
      ps.map((p) =>
        until(
          `serve on node ${p.node} to be ready:\n${p.stderr()}`,
          () => serveReady(p) || !p.alive(),
        ),
      ),
    );
    for (const p of ps)
      if (!p.alive()) throw new Error(`serve on node ${p.node} exited:\n${p.stderr()}`);
  }

  /** SIGTERM the serve of `node`; resolves with its exit code. */
  async stop(node: number): Promise<number | null> {
    const p = this.running.get(node);
    if (p === undefined || !p.alive()) return p === undefined ? null : p.exited;
    p.child.kill('SIGTERM');
    const t = setTimeout(() => p.child.kill('SIGKILL'), 15_000);
    const code = await p.exited;
    clearTimeout(t);
    return code;
  }

  /** kill -9 the serve of `node`. */
  async kill(node: number): Promise<void> {
    const p = this.running.get(node);
    if (p === undefined || !p.alive()) return;
    p.child.kill('SIGKILL');
    await p.exited;
  }

  /** Stop every serve still running. */
  async stopAll(): Promise<void> {
    for (const n of [...this.running.keys()]) await this.stop(n);
  }
}
