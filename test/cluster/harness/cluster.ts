/**
 * The test process's handle on `scripts/cluster`: where the script is, which cluster the
 * environment names, and one function per script command (exec, kill, start, isolate, heal,
 * wait-quorum, wait-nodes). Same environment variables as the script.
 * @module
 */
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root. */
export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** `scripts/cluster`. */
export const clusterScript = join(repoRoot, 'scripts', 'cluster');

/** One node as `scripts/cluster env --json` describes it. */
export interface ClusterNodeInfo {
  readonly node: number;
  /** The node's network namespace: run a client with `ip netns exec <namespace> ...`. */
  readonly namespace: string;
  readonly address: string;
  readonly config: string;
  readonly log: string;
}

/** The cluster as `scripts/cluster env --json` describes it. */
export interface ClusterEnv {
  readonly name: string;
  readonly subnet: string;
  readonly dir: string;
  readonly switchNamespace: string;
  readonly nodes: readonly ClusterNodeInfo[];
}

/** What a script command printed, and how it ended. */
export interface ScriptResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** A `scripts/cluster` command that exited non-zero. */
export class ClusterScriptError extends Error {
  override name = 'ClusterScriptError';
  constructor(
    readonly args: readonly string[],
    readonly result: ScriptResult,
  ) {
    super(
      `scripts/cluster ${args.join(' ')} exited ${result.code}: ${result.stderr.trim().split('\n').slice(-5).join(' | ')}`,
    );
  }
}

/**
 * Run `scripts/cluster ARGS...` and resolve with what it printed, whatever the exit code.
 * @param args - the command and its arguments
 * @param options - `timeoutMs` (default 120 s) and extra environment
 */
export function runClusterScript(
  args: readonly string[],
  options: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<ScriptResult> {
  return new Promise((resolve) => {
    execFile(
      'bash',
      [clusterScript, ...args],
      {
        cwd: repoRoot,
        env: { ...process.env, ...options.env },
        timeout: options.timeoutMs ?? 120_000,
        maxBuffer: 64 * 1024 * 1024,
        encoding: 'utf8',
      },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/**
 * Run `scripts/cluster ARGS...`; reject with `ClusterScriptError` when it exits non-zero.
 * @param args - the command and its arguments
 * @param options - `timeoutMs` (default 120 s)
 */
export async function clusterScriptOk(
  args: readonly string[],
  options: { timeoutMs?: number } = {},
): Promise<string> {
  const result = await runClusterScript(args, options);
  if (result.code !== 0) throw new ClusterScriptError(args, result);
  return result.stdout;
}

/** The cluster the environment names (`CPGKIT_CLUSTER_*`), as the script computes it. */
export async function clusterEnv(): Promise<ClusterEnv> {
  return JSON.parse(await clusterScriptOk(['env', '--json'])) as ClusterEnv;
}

/**
 * Run a command inside node N's network namespace (`scripts/cluster exec N ...`).
 * Resolves with its output and exit code (never rejects on a non-zero exit).
 * @param node - the node number
 * @param command - the program and its arguments
 */
export function execOnNode(
  node: number,
  command: readonly string[],
  options: { timeoutMs?: number } = {},
): Promise<ScriptResult> {
  return runClusterScript(['exec', String(node), ...command], options);
}

/** kill -9 node N's corosync daemon (the others see NODEDOWN). */
export async function killNode(node: number): Promise<void> {
  await clusterScriptOk(['kill', String(node)]);
}

/** Start node N's daemon again and wait until it answers. */
export async function startNode(node: number): Promise<void> {
  await clusterScriptOk(['start', String(node)]);
}

/** Cut node N off from the others (its link goes down; both sides go on). */
export async function isolateNode(node: number): Promise<void> {
  await clusterScriptOk(['isolate', String(node)]);
}

/** Reconnect node N, or every node. */
export async function healNodes(node?: number): Promise<void> {
  await clusterScriptOk(node === undefined ? ['heal'] : ['heal', String(node)]);
}

/** Wait until every listed node (default: all) is quorate. */
export async function waitQuorum(nodes: readonly number[] = [], timeoutS = 30): Promise<void> {
  await clusterScriptOk(['wait-quorum', ...nodes.map(String), '--timeout', String(timeoutS)], {
    timeoutMs: (timeoutS + 10) * 1000,
  });
}

/** Wait until every listed node (default: all) sees `count` nodes in its ring. */
export async function waitNodes(
  count: number,
  nodes: readonly number[] = [],
  timeoutS = 30,
): Promise<void> {
  await clusterScriptOk(
    ['wait-nodes', String(count), ...nodes.map(String), '--timeout', String(timeoutS)],
    {
      timeoutMs: (timeoutS + 10) * 1000,
    },
  );
}
