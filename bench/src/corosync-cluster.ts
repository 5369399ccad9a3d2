/**
 * The real corosync cluster (`scripts/cluster`, one network namespace per node; 3 nodes unless
 * `CPGKIT_CLUSTER_NODES` or `reconfigure` says otherwise) as the
 * benchmark uses it: brought up when it is not already, faults by pid, and brought down
 * again only if this run brought it up.
 * @module
 */
import { run } from './procs.js';
import { repoRoot } from './paths.js';

const SCRIPT = 'scripts/cluster';

function cluster(args: string[], timeoutMs = 120_000): Promise<string> {
  return run('bash', [SCRIPT, ...args], { cwd: repoRoot, timeoutMs });
}

/** Handle on the corosync cluster named by `CPGKIT_CLUSTER_NAME`. */
export class CorosyncCluster {
  #broughtUp = false;
  /** Whether corosync runs with the script's default totem settings (no `reconfigure` with any). */
  #defaultTotem = true;

  /** The cluster's name (from the environment the script reads). */
  get name(): string {
    return process.env.CPGKIT_CLUSTER_NAME ?? 'cpgk';
  }

  /** How many nodes it has (`CPGKIT_CLUSTER_NODES`, which `reconfigure` sets). */
  get nodes(): number {
    return Number(process.env.CPGKIT_CLUSTER_NODES ?? 3);
  }

  /** Bring the cluster up unless every node already runs and is quorate. */
  async up(): Promise<void> {
    const status = await cluster(['status'], 30_000).catch(() => '');
    const n = this.nodes;
    const healthy =
      status.split('\n').filter((l) => l.includes(`quorate=Yes nodes=${n}`)).length === n;
    if (healthy) return;
    await cluster(['up'], 180_000);
    this.#broughtUp = true;
  }

  /** `NODE -> daemon pid`. */
  async daemonPids(): Promise<Map<number, number>> {
    const out = await cluster(['pids'], 30_000);
    const map = new Map<number, number>();
    for (const line of out.trim().split('\n')) {
      const [n, pid] = line.trim().split(/\s+/).map(Number);
      if (n && pid) map.set(n, pid);
    }
    return map;
  }

  /** kill -9 node `n`'s daemon by pid, right now (no script in between). */
  async killDaemonNow(n: number, pids: Map<number, number>): Promise<void> {
    const pid = pids.get(n);
    if (!pid) throw new Error(`no daemon pid for node ${n}`);
    process.kill(pid, 'SIGKILL');
    await Promise.resolve();
  }

  /** Start node `n`'s daemon again and wait until all nodes are quorate and see each other. */
  async restartNode(n: number): Promise<void> {
    await cluster(['start', String(n)], 60_000);
    await cluster(['wait-nodes', String(this.nodes), '--timeout', '60'], 90_000);
    await cluster(['wait-quorum', '--timeout', '60'], 90_000);
  }

  /**
   * Bring the cluster down and up again with these settings (`scripts/cluster` writes the
   * totem ones into corosync.conf: `CPGKIT_CLUSTER_TOKEN`, `CPGKIT_CLUSTER_TOKEN_COEFFICIENT`;
   * `nodes` is `CPGKIT_CLUSTER_NODES`, kept in this process's environment so that workers
   * started later find their node); a totem setting left out is corosync's default (token
   * 1000 ms, coefficient 650 ms), `nodes` left out keeps the current count.
   */
  async reconfigure(settings: {
    token?: number;
    tokenCoefficient?: number;
    nodes?: number;
  }): Promise<void> {
    // down with the count it was brought up with: the script removes those namespaces
    await cluster(['down'], 120_000);
    if (settings.nodes !== undefined) process.env.CPGKIT_CLUSTER_NODES = String(settings.nodes);
    const env = { ...process.env };
    delete env.CPGKIT_CLUSTER_TOKEN;
    delete env.CPGKIT_CLUSTER_TOKEN_COEFFICIENT;
    if (settings.token !== undefined) env.CPGKIT_CLUSTER_TOKEN = String(settings.token);
    if (settings.tokenCoefficient !== undefined)
      env.CPGKIT_CLUSTER_TOKEN_COEFFICIENT = String(settings.tokenCoefficient);
    this.#broughtUp = true;
    this.#defaultTotem = settings.token === undefined && settings.tokenCoefficient === undefined;
    await run('bash', [SCRIPT, 'up'], { cwd: repoRoot, timeoutMs: 180_000, env });
  }

  /**
   * The settings of the running cluster that bear on timing, as node 1's corosync.conf has
   * them (`token: 1000, seqno_unchanged_const: 2, sched_rr: no`...): an existing cluster is
   * reused whatever it was brought up with, so the report says what it ran on.
   */
  async totemSettings(): Promise<string> {
    const { readFile } = await import('node:fs/promises');
    const dir = process.env.CPGKIT_CLUSTER_DIR ?? `/tmp/cpgkit-cluster-${this.name}`;
    const conf = await readFile(`${dir}/n1/corosync.conf`, 'utf8').catch(() => '');
    return conf
      .split('\n')
      .map((l) => l.trim())
      .filter((l) =>
        /^(token|token_coefficient|seqno_unchanged_const|consensus|hold|max_messages|window_size|sched_rr|priority)\s*:/.test(
          l,
        ),
      )
      .join(', ');
  }

  /** Whether the cluster runs `nodes` nodes (and, with `defaultTotem`, the default totem). */
  runs(settings: { nodes: number; defaultTotem?: boolean }): boolean {
    return this.nodes === settings.nodes && (!settings.defaultTotem || this.#defaultTotem);
  }

  /** Bring the cluster down if this run brought it up. */
  async down(): Promise<void> {
    if (this.#broughtUp) await cluster(['down'], 120_000);
    this.#broughtUp = false;
  }
}
