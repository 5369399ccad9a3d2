/**
 * An etcd cluster (3 members, or up to 9) on loopback ports, started and stopped by the benchmark (by pid),
 * with its data under a temp dir. etcd comes from Debian (`etcd-server`), installed with
 * apt when missing.
 * @module
 */
import type { ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { isRunning, run, sleep, startProcess, stopProcess } from './procs.js';

/** Whether etcd fsyncs its WAL (the default) or runs with `--unsafe-no-fsync`. */
export type EtcdDurability = 'fsync' | 'no-fsync';

/** One member of the cluster. */
export interface EtcdMember {
  readonly index: number;
  readonly name: string;
  readonly clientUrl: string;
  readonly peerUrl: string;
  readonly dataDir: string;
  process: ChildProcess | undefined;
}

/** Where etcd's ports start: clients on BASE+1..size, peers on BASE+11..10+size. */
const BASE_PORT = Number(process.env.BENCH_ETCD_BASE_PORT ?? 23790);

/** Install etcd (and etcdctl) with apt-get when `etcd` is not on PATH. Returns its version line. */
export async function ensureEtcd(): Promise<string> {
  const has = async () => {
    try {
      return (await run('etcd', ['--version'], { timeoutMs: 10_000 })).split('\n')[0]!.trim();
    } catch {
      return undefined;
    }
  };
  const version = await has();
  if (version) return version;
  console.error('bench: etcd is missing: installing etcd-server and etcd-client with apt-get...');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  try {
    await run('apt-get', ['install', '-y', 'etcd-server', 'etcd-client'], {
      env,
      timeoutMs: 300_000,
    });
  } catch {
    await run('apt-get', ['update'], { env, timeoutMs: 300_000 });
    await run('apt-get', ['install', '-y', 'etcd-server', 'etcd-client'], {
      env,
      timeoutMs: 300_000,
    });
  }
  const after = await has();
  if (!after) throw new Error('etcd is still missing after apt-get install etcd-server');
  return after;
}

/** A running etcd cluster (3 members unless started with another size). */
export class EtcdCluster {
  readonly members: EtcdMember[];
  readonly durability: EtcdDurability;
  readonly #dir: string;
  readonly #token: string;

  private constructor(dir: string, durability: EtcdDurability, size: number) {
    this.#dir = dir;
    this.durability = durability;
    this.#token = `cpgkit-bench-${process.pid}-${Date.now()}`;
    this.members = Array.from({ length: size }, (_, k) => k + 1).map((i) => ({
      index: i,
      name: `m${i}`,
      clientUrl: `http://127.0.0.1:${BASE_PORT + i}`,
      peerUrl: `http://127.0.0.1:${BASE_PORT + 10 + i}`,
      dataDir: join(dir, `m${i}`),
      process: undefined,
    }));
  }

  /**
   * Start a fresh cluster of `size` members (1-9; empty data dirs under `dir`) and wait until
   * every member is healthy.
   */
  static async start(dir: string, durability: EtcdDurability, size = 3): Promise<EtcdCluster> {
    if (!Number.isInteger(size) || size < 1 || size > 9)
      throw new Error(`an etcd cluster of ${size} members: 1 to 9 (ports BASE+1..9, BASE+11..19)`);
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    const cluster = new EtcdCluster(dir, durability, size);
    for (const m of cluster.members) {
      if (await healthy(m.clientUrl, 300)) {
        throw new Error(
          `something already answers on ${m.clientUrl}: set BENCH_ETCD_BASE_PORT to free ports`,
        );
      }
    }
    try {
      for (const m of cluster.members) cluster.#spawn(m, 'new');
      await cluster.waitHealthy();
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  #spawn(m: EtcdMember, state: 'new' | 'existing'): void {
    const initialCluster = this.members.map((x) => `${x.name}=${x.peerUrl}`).join(',');
    const args = [
      `--name=${m.name}`,
      `--data-dir=${m.dataDir}`,
      `--listen-client-urls=${m.clientUrl}`,
      `--advertise-client-urls=${m.clientUrl}`,
      `--listen-peer-urls=${m.peerUrl}`,
      `--initial-advertise-peer-urls=${m.peerUrl}`,
      `--initial-cluster=${initialCluster}`,
      `--initial-cluster-state=${state}`,
      `--initial-cluster-token=${this.#token}`,
      '--logger=zap',
      '--log-outputs=stderr',
      '--log-level=warn',
      // etcd's defaults, stated: heartbeat 100 ms, election timeout 1000 ms (like corosync's token 1000)
      '--heartbeat-interval=100',
      '--election-timeout=1000',
      '--quota-backend-bytes=4294967296',
      ...(this.durability === 'no-fsync' ? ['--unsafe-no-fsync'] : []),
    ];
    const child = startProcess(`etcd ${m.name}`, 'etcd', args, {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const log = createWriteStream(join(this.#dir, `${m.name}.log`), { flags: 'a' });
    child.stderr?.pipe(log);
    m.process = child;
  }

  /** Wait until every running member answers `/health` with true. */
  async waitHealthy(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (const m of this.members) {
      if (!m.process || !isRunning(m.process)) continue;
      while (!(await healthy(m.clientUrl, 1000))) {
        if (m.process && !isRunning(m.process))
          throw new Error(`etcd ${m.name} exited; see ${this.#dir}/${m.name}.log`);
        if (Date.now() > deadline)
          throw new Error(
            `etcd ${m.name} not healthy after ${timeoutMs} ms; see ${this.#dir}/${m.name}.log`,
          );
        await sleep(100);
      }
    }
  }

  /**
   * The TTL (s) etcd actually grants when asked for `requested` seconds (it raises short TTLs
   * to its minimum), through the gRPC gateway; the lease is revoked again.
   */
  async grantedTtl(requested: number): Promise<number> {
    const url = this.member(1).clientUrl;
    const res = await fetch(`${url}/v3/lease/grant`, {
      method: 'POST',
      body: JSON.stringify({ TTL: requested }),
      signal: AbortSignal.timeout(5000),
    });
    const body = (await res.json()) as { ID?: string; TTL?: string };
    if (body.ID) {
      await fetch(`${url}/v3/lease/revoke`, {
        method: 'POST',
        body: JSON.stringify({ ID: body.ID }),
        signal: AbortSignal.timeout(5000),
      }).catch(() => undefined);
    }
    const ttl = Number(body.TTL);
    if (!Number.isFinite(ttl)) throw new Error(`lease grant answered ${JSON.stringify(body)}`);
    return ttl;
  }

  /** The pid of member `i` (1..size). */
  pid(i: number): number {
    const pid = this.member(i).process?.pid;
    if (pid === undefined) throw new Error(`etcd m${i} is not running`);
    return pid;
  }

  member(i: number): EtcdMember {
    const m = this.members[i - 1];
    if (!m) throw new Error(`no etcd member ${i}`);
    return m;
  }

  /** kill -9 member `i`, by pid. */
  async kill(i: number): Promise<void> {
    const m = this.member(i);
    if (m.process) await stopProcess(m.process, 'SIGKILL');
    m.process = undefined;
  }

  /** Start member `i` again on its data dir and wait until the cluster is healthy. */
  async restart(i: number): Promise<void> {
    const m = this.member(i);
    if (m.process && isRunning(m.process)) return;
    this.#spawn(m, 'existing');
    await this.waitHealthy();
  }

  /** Stop every member (SIGTERM, then SIGKILL) and remove the data dirs. */
  async stop(): Promise<void> {
    await Promise.all(
      this.members.map(async (m) =>
        m.process ? stopProcess(m.process, 'SIGTERM', 5000) : undefined,
      ),
    );
    for (const m of this.members) m.process = undefined;
    await rm(this.#dir, { recursive: true, force: true });
  }
}

async function healthy(clientUrl: string, timeoutMs: number): Promise<boolean> {
  try {
    const res = await fetch(`${clientUrl}/health`, { signal: AbortSignal.timeout(timeoutMs) });
    const body = (await res.json()) as { health?: string };
    return body.health === 'true';
  } catch {
    return false;
  }
}
