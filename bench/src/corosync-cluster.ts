/**
 * The real 3-node corosync cluster (`scripts/cluster`, one network namespace per node) as the
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

  /** The cluster's name (from the environment the script reads). */
  get name(): string {
    return process.env.CPGKIT_CLUSTER_NAME ?? 'cpgk';
  }

  /** Bring the cluster up unless every node already runs and is quorate. */
  async up(): Promise<void> {
    const status = await cluster(['status'], 30_000).catch(() => '');
    const healthy = status.split('\n').filter((l) => /quorate=Yes nodes=3/.test(l)).length === 3;
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

  /** Start node `n`'s daemon again and wait until all nodes are quorate and see 3 nodes. */
  async restartNode(n: number): Promise<void> {
    await cluster(['start', String(n)], 60_000);
    await cluster(['wait-nodes', '3', '--timeout', '60'], 90_000);
    await cluster(['wait-quorum', '--timeout', '60'], 90_000);
  }

  /**
   * Bring the cluster down and up again with these totem settings (`scripts/cluster` writes
   * them into corosync.conf: `CPGKIT_CLUSTER_TOKEN`, `CPGKIT_CLUSTER_TOKEN_COEFFICIENT`);
   * `{}` restores the defaults (token 1000 ms, corosync's coefficient of 650 ms).
   */
  async reconfigure(totem: { token?: number; tokenCoefficient?: number }): Promise<void> {
    await cluster(['down'], 120_000);
    const env = { ...process.env };
    delete env.CPGKIT_CLUSTER_TOKEN;
    delete env.CPGKIT_CLUSTER_TOKEN_COEFFICIENT;
    if (totem.token !== undefined) env.CPGKIT_CLUSTER_TOKEN = String(totem.token);
    if (totem.tokenCoefficient !== undefined)
      env.CPGKIT_CLUSTER_TOKEN_COEFFICIENT = String(totem.tokenCoefficient);
    await run('bash', [SCRIPT, 'up'], { cwd: repoRoot, timeoutMs: 180_000, env });
    this.#broughtUp = true;
  }

  /** Bring the cluster down if this run brought it up. */
  async down(): Promise<void> {
    if (this.#broughtUp) await cluster(['down'], 120_000);
    this.#broughtUp = false;
  }
}
