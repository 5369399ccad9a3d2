/**
 * Lock and election benchmarks. Prints:
 * - uncontended acquire+release per second (one member, nobody else wants the lock);
 * - contended hand-off latency p50/p99 (two members take turns: release → the waiter's grant);
 * - election failover time (the leader's process is killed → the next leader is elected);
 * - CPU per replica per lock command (in memory: `--concurrency N` holders on each of three
 *   members, each acquiring and releasing its own lock for `--duration S` seconds; acquire and
 *   release are one replicated command each, so this is the lock counterpart of the config
 *   store's CPU per `set` in packages/statemachine/bench/kv.ts);
 * on the in-memory cluster, and on real corosync when a cluster is up (`--corosync`).
 *
 *   pnpm exec tsx --conditions=@cpgkit/source packages/locks/bench/locks.ts [--ops N] [--corosync]
 *   pnpm exec tsx --conditions=@cpgkit/source packages/locks/bench/locks.ts --cpu-only [--duration 3 | --pairs N] [--contended]
 *   pnpm exec tsx --conditions=@cpgkit/source packages/locks/bench/locks.ts --names 10000 [--duration 3]
 *
 * `--names N`: a lock name per request (every acquire a name never used before): the time to
 * reach N names, then CPU per replica per lock command for `--duration S`, and what the state
 * holds after (entries, bytes of JSON). Free locks are deleted (state format 2): nothing grows.
 *
 * With `--corosync`, one member process runs inside each node's network namespace of the
 * cluster `scripts/cluster` names (CPGKIT_CLUSTER_* variables); run as root with the cluster up.
 * @module
 */
import { execFileSync, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';
import { MemoryCluster } from '@cpgkit/core/testing';
import { corosync, Group } from '@cpgkit/core';
import { Locks } from '../src/index.js';
import { lockNames } from '../src/lock-table.js';

const args = process.argv.slice(2);
const flag = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const OPS = Number(flag('--ops') ?? 2000);
const DURATION_MS = Number(flag('--duration') ?? 3) * 1000;
const CONCURRENCY = Number(flag('--concurrency') ?? 64);
/** `--pairs N`: each holder does N acquire+release pairs (a fixed amount of work) instead of `--duration`. */
const PAIRS = flag('--pairs') === undefined ? undefined : Number(flag('--pairs'));
/** `--contended`: the holders of the three members take the same `CONCURRENCY` names. */
const CONTENDED = args.includes('--contended');
const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = join(here, '..', '..', '..');

/** Absolute high-resolution time in ms, comparable between processes on one machine. */
const now = (): number => performance.timeOrigin + performance.now();

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
}

function line(what: string, value: string): void {
  process.stdout.write(`${what.padEnd(58)} ${value}\n`);
}

// ---------------------------------------------------------------- in-memory

async function memory(): Promise<void> {
  const cluster = new MemoryCluster({ nodes: 3, seed: 1 });
  const clients = await Promise.all(
    cluster.nodeIds.map((n) => Locks.open(cluster.member(n), { groupName: 'bench' })),
  );
  await cluster.runUntilIdle();
  const [a, b] = clients as [Locks, Locks, Locks];

  // uncontended
  const t0 = performance.now();
  for (let i = 0; i < OPS; i++) {
    const l = await a.acquire('u');
    await l.release();
  }
  const ms = performance.now() - t0;
  line('memory: uncontended acquire+release', `${((OPS * 1000) / ms).toFixed(0)} /s (${OPS} ops)`);

  // contended hand-off: a and b take turns
  const lat: number[] = [];
  let held = await a.acquire('c');
  const n = Math.max(100, Math.floor(OPS / 4));
  for (let i = 0; i < n; i++) {
    const next = (i % 2 === 0 ? b : a).acquire('c');
    await cluster.runUntilIdle();
    const r = performance.now();
    await held.release();
    held = await next;
    lat.push(performance.now() - r);
  }
  await held.release();
  line(
    'memory: contended hand-off latency',
    `p50 ${pct(lat, 50).toFixed(3)} ms, p99 ${pct(lat, 99).toFixed(3)} ms (${n} hand-offs)`,
  );

  await Promise.all(clients.map((x) => x.close()));
  cluster.destroy();

  // election failover: crash the leader's process (a fresh cluster each time: with a majority
  // of replicas required, three members survive one crash)
  const fo: number[] = [];
  for (let i = 0; i < 5; i++) {
    const cl = new MemoryCluster({ nodes: 3, seed: 10 + i });
    const [x, y] = (await Promise.all(
      cl.nodeIds.map((n) => Locks.open(cl.member(n), { groupName: 'bench' })),
    )) as [Locks, Locks, Locks];
    await cl.runUntilIdle();
    await x.campaign('e');
    const p = y.campaign('e');
    await cl.runUntilIdle();
    const t = performance.now();
    cl.crashProcess(x.machine.self);
    await cl.runUntilIdle({ advanceTime: true, maxTime: 10_000 });
    await p;
    fo.push(performance.now() - t);
    cl.destroy();
  }
  line(
    'memory: election failover (leader process killed)',
    `p50 ${pct(fo, 50).toFixed(2)} ms, max ${Math.max(...fo).toFixed(2)} ms (5 runs; wall time incl. the sync round, no failure-detection delay in memory)`,
  );
}

/**
 * CPU per replica per lock command: `CONCURRENCY` holders on each of three members, each taking
 * and releasing its own lock (uncontended, so every command is a grant or a release), for
 * `DURATION_MS`. The process's CPU over the commands the three replicas applied.
 */
async function cpuPerCommand(): Promise<void> {
  const cluster = new MemoryCluster({ nodes: 3, seed: 1 });
  const clients = await Promise.all(
    cluster.nodeIds.map((n) => Locks.open(cluster.member(n), { groupName: 'bench' })),
  );
  await cluster.runUntilIdle();
  let pairs = 0;
  let errors = 0;
  const cpu0 = process.cpuUsage();
  const end = performance.now() + DURATION_MS;
  const holder = async (locks: Locks, name: string): Promise<void> => {
    for (let k = 0; PAIRS === undefined ? performance.now() < end : k < PAIRS; k++) {
      try {
        await (await locks.acquire(name)).release();
        pairs++;
      } catch {
        errors++;
      }
    }
  };
  const t0 = performance.now();
  await Promise.all(
    clients.flatMap((c, m) =>
      Array.from({ length: CONCURRENCY }, (_, i) =>
        holder(c, CONTENDED ? `cpu/${i}` : `cpu/${m}/${i}`),
      ),
    ),
  );
  const elapsed = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const commands = pairs * 2;
  const usPerCommand = (cpu.user + cpu.system) / 3 / commands;
  line(
    'memory: CPU per replica per lock command',
    `${usPerCommand.toFixed(1)} µs (${((commands * 1000) / elapsed).toFixed(0)} commands/s, ${CONCURRENCY} holders per member${CONTENDED ? ', 3 per name' : ''}, ${errors} errors)`,
  );
  await Promise.all(clients.map((x) => x.close()));
  cluster.destroy();
}

/** A lock name per request: see `--names` at the top. */
async function perRequestNames(names: number): Promise<void> {
  const cluster = new MemoryCluster({ nodes: 3, seed: 1 });
  const clients = await Promise.all(
    cluster.nodeIds.map((n) => Locks.open(cluster.member(n), { groupName: 'bench' })),
  );
  await cluster.runUntilIdle();
  let k = 0;
  let pairs = 0;
  const run = (done: () => boolean): Promise<void[]> =>
    Promise.all(
      clients.flatMap((c, m) =>
        Array.from({ length: CONCURRENCY }, async () => {
          while (!done()) {
            await (await c.acquire(`request/${m}/${k++}`)).release();
            pairs++;
          }
        }),
      ),
    );
  const t0 = performance.now();
  await run(() => k >= names);
  const warm = performance.now() - t0;
  pairs = 0;
  const cpu0 = process.cpuUsage();
  const end = performance.now() + DURATION_MS;
  await run(() => performance.now() >= end);
  const cpu = process.cpuUsage(cpu0);
  const state = clients[0]!.machine.state;
  line(
    `memory: a lock name per request, after ${names} names`,
    `${((cpu.user + cpu.system) / 3 / (pairs * 2)).toFixed(1)} µs CPU per replica per command; ${(warm / 1000).toFixed(1)} s to reach ${names} names; ${lockNames(state.locks).length} lock entries, ${JSON.stringify(state).length} bytes of state JSON after ${k} names`,
  );
  await Promise.all(clients.map((x) => x.close()));
  cluster.destroy();
}

// ---------------------------------------------------------------- real corosync

interface Report {
  ev: string;
  t: number;
  [k: string]: unknown;
}

/** One member, inside a node's namespace: follows commands on stdin, reports on stdout. */
async function member(group: string): Promise<void> {
  const say = (r: Report): void => void process.stdout.write(`${JSON.stringify(r)}\n`);
  // a new group of the bench's, its members started one at a time
  const locks = await Locks.open(new Group(corosync()), { groupName: group, bootstrap: 'alone' });
  await locks.machine.ready({ timeout: 30_000 });
  say({ ev: 'ready', t: now() });
  const rl = createInterface({ input: process.stdin });
  for await (const cmd of rl) {
    const [op, arg] = cmd.split(' ');
    if (op === 'uncontended') {
      const n = Number(arg);
      const t0 = now();
      for (let i = 0; i < n; i++) await (await locks.acquire('u')).release();
      say({ ev: 'uncontended', t: now(), ms: now() - t0, n });
    } else if (op === 'pingpong') {
      const n = Number(arg);
      for (let i = 0; i < n; i++) {
        const l = await locks.acquire('c');
        say({ ev: 'acquired', t: now() });
        await new Promise((r) => setTimeout(r, 1));
        const t = now();
        await l.release();
        say({ ev: 'released', t });
      }
      say({ ev: 'pingpong-done', t: now() });
    } else if (op === 'campaign') {
      const l = await locks.campaign('e');
      say({ ev: 'elected', t: now(), term: l.term.toString() });
    } else if (op === 'exit') {
      await locks.close();
      process.exit(0);
    }
  }
}

interface Child {
  readonly node: number;
  readonly pid: number;
  send(cmd: string): void;
  next(ev: string): Promise<Report>;
  readonly reports: Report[];
  kill(): void;
}

function spawnMember(node: number, namespace: string, group: string): Child {
  // node itself with tsx as a loader (the tsx CLI would run the script in a child process,
  // and kill -9 must hit the member)
  const tsx = pathToFileURL(join(repoRoot, 'node_modules', 'tsx', 'dist', 'esm', 'index.mjs')).href;
  const child = spawn(
    'ip',
    [
      'netns',
      'exec',
      namespace,
      process.execPath,
      '--import',
      tsx,
      '--conditions=@cpgkit/source',
      fileURLToPath(import.meta.url),
      '--member',
      group,
    ],
    {
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  );
  const reports: Report[] = [];
  const waiters: { ev: string; resolve: (r: Report) => void }[] = [];
  createInterface({ input: child.stdout }).on('line', (l) => {
    if (!l.startsWith('{')) return;
    const r = JSON.parse(l) as Report;
    reports.push(r);
    const w = waiters.findIndex((x) => x.ev === r.ev);
    if (w >= 0) waiters.splice(w, 1)[0]!.resolve(r);
  });
  return {
    node,
    pid: child.pid!,
    reports,
    send: (cmd) => void child.stdin.write(`${cmd}\n`),
    next: (ev) => new Promise((resolve) => waiters.push({ ev, resolve })),
    kill: () => void child.kill('SIGKILL'),
  };
}

async function real(): Promise<void> {
  const env = JSON.parse(
    execFileSync('bash', [join(repoRoot, 'scripts', 'cluster'), 'env', '--json'], {
      encoding: 'utf8',
    }),
  ) as {
    nodes: { node: number; namespace: string }[];
  };
  const group = `bench-locks-${process.pid}`;
  const kids = env.nodes.map((n) => spawnMember(n.node, n.namespace, group));
  await Promise.all(kids.map((k) => k.next('ready')));
  const [a, b, c] = kids as [Child, Child, Child];

  const n = Math.max(100, Math.floor(OPS / 4));
  a.send(`uncontended ${n}`);
  const u = await a.next('uncontended');
  line(
    'corosync: uncontended acquire+release',
    `${((n * 1000) / (u.ms as number)).toFixed(0)} /s (${n} ops)`,
  );

  const m = Math.max(50, Math.floor(OPS / 20));
  a.send(`pingpong ${m}`);
  b.send(`pingpong ${m}`);
  await Promise.all([a.next('pingpong-done'), b.next('pingpong-done')]);
  const evs = [...a.reports, ...b.reports]
    .filter((r) => r.ev === 'acquired' || r.ev === 'released')
    .sort((x, y) => x.t - y.t);
  const lat: number[] = [];
  for (let i = 1; i < evs.length; i++)
    if (evs[i]!.ev === 'acquired' && evs[i - 1]!.ev === 'released')
      lat.push(evs[i]!.t - evs[i - 1]!.t);
  line(
    'corosync: contended hand-off latency (release → next grant)',
    `p50 ${pct(lat, 50).toFixed(2)} ms, p99 ${pct(lat, 99).toFixed(2)} ms (${lat.length} hand-offs)`,
  );

  a.send('campaign');
  await a.next('elected');
  b.send('campaign');
  c.send('campaign');
  await new Promise((r) => setTimeout(r, 300));
  const t0 = now();
  a.kill();
  const e = await Promise.race([b.next('elected'), c.next('elected')]);
  line('corosync: election failover (leader process kill -9)', `${(e.t - t0).toFixed(0)} ms`);
  for (const k of [b, c]) k.send('exit');
  await new Promise((r) => setTimeout(r, 500));
  for (const k of kids) k.kill();
}

if (args.includes('--member')) {
  await member(flag('--member')!);
} else if (args.includes('--cpu-only')) {
  await cpuPerCommand();
} else if (args.includes('--names')) {
  await perRequestNames(Number(flag('--names')));
} else {
  await memory();
  await cpuPerCommand();
  if (args.includes('--corosync')) await real();
}
