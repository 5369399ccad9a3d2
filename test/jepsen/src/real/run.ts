/**
 * One real-cluster campaign: `cpgkit serve` on every node of `scripts/cluster`, a client
 * process on every node running the four workloads, the nemesis faulting the cluster from the
 * seed for `timeMs`, then every fault healed, the liveness phase (every serve healthy, the
 * replicas' digests agree), the final reads (every node must read the same), and the checkers.
 * @module
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { FencedResource, StaleTokenError } from '@cpgkit/locks';
import { Random } from '@cpgkit/core/testing';
import type { HistoryRecord, Value } from '../history.js';
import type { Anomaly, Verdict } from '../checkers/verdict.js';
import { checkRegister } from '../checkers/register.js';
import { checkSet } from '../checkers/set.js';
import { checkLocks } from '../checkers/lock.js';
import { checkElection } from '../checkers/election.js';
import { cluster, clusterConfig, clusterIsUp, namespaceOf, repoRoot } from './cluster.js';
import { ClientProcess } from './clients.js';
import { RealNemesis, type FaultKind } from './nemesis.js';
import type { FromClient, WorkloadName } from './protocol.js';
import { MergedHistory, monotonicNs } from './recorder.js';
import { cliPath, HTTP_PORT, Serves } from './serves.js';

/** Options of a real run. */
export interface RealOptions {
  readonly seed: number;
  /** How long the nemesis runs, in ms (the liveness phase and final reads come after). */
  readonly timeMs: number;
  /** Operation timeout of the clients, in ms. @defaultValue 5000 */
  readonly opTimeout?: number;
  /** Where the serves' data directories and logs go. @defaultValue os.tmpdir() */
  readonly dir?: string;
  /** Register reads local (not linearizable): the checker must object. @defaultValue false */
  readonly staleReads?: boolean;
  /** Leave the cluster up at the end even when this run brought it up. */
  readonly keepCluster?: boolean;
  /** Progress lines. */
  readonly log?: (line: string) => void;
}

/** What a real run did and what the checkers said. */
export interface RealResult {
  readonly seed: number;
  readonly nodes: number;
  readonly group: string;
  readonly timeMs: number;
  readonly wallMs: number;
  /** The nemesis's records (`fault` start/end, `action`), and the liveness phase's. */
  readonly faults: readonly HistoryRecord[];
  readonly histories: Readonly<Record<WorkloadName, readonly HistoryRecord[]>>;
  readonly verdicts: readonly Verdict[];
  readonly valid: boolean;
  readonly faultCounts: Readonly<Record<string, number>>;
  /** The final reads of every node. */
  readonly finals: Readonly<Record<string, Value>>;
  /** ms from healing to every serve healthy (undefined: never). */
  readonly convergedMs: number | undefined;
  /** Where the serves' logs were (removed unless the run failed). */
  readonly logsDir: string;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const WORKLOADS: readonly WorkloadName[] = ['register', 'set', 'lock', 'election'];

/** Run one campaign on the real cluster (as root). */
export async function runReal(o: RealOptions): Promise<RealResult> {
  const started = performance.now();
  const log = o.log ?? ((): void => undefined);
  const { nodes } = clusterConfig();
  const rng = new Random(`jepsen-real:${o.seed}`);
  const opTimeout = o.opTimeout ?? 5000;
  const group = `jepsen-${o.seed}-${process.pid}`;
  const dir = await mkdtemp(join(o.dir ?? tmpdir(), 'cpgkit-jepsen-real-'));
  const t0 = monotonicNs();

  const histories = Object.fromEntries(WORKLOADS.map((w) => [w, new MergedHistory()])) as Record<
    WorkloadName,
    MergedHistory
  >;
  const faults = new MergedHistory();
  const fault = (event: string, value: Value): void =>
    faults.add(monotonicNs(), 0, { kind: 'event', process: 'nemesis', event, value });
  const resources = new Map<string, FencedResource>();

  const broughtUp = !(await clusterIsUp());
  log(`cluster: ${broughtUp ? 'bringing it up' : 'already up'} (${nodes} nodes)`);
  await cluster(['up']);
  log('building the cli (tsc -b)');
  await promisify(execFile)(
    process.execPath,
    [join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '-b', 'tsconfig.build.json'],
    { cwd: repoRoot },
  );

  const serves = new Serves(group, dir, nodes);
  const all = Array.from({ length: nodes }, (_, i) => i + 1);
  const clients: ClientProcess[] = [];
  const verdicts: Verdict[] = [];
  const finals: Record<string, Value> = {};
  let convergedMs: number | undefined;
  const nemesis = new RealNemesis(serves, nodes, rng, (e, v) => fault(e, v));
  let failed = false;
  try {
    for (const n of all) serves.start(n);
    for (const n of all) {
      const c: ClientProcess = new ClientProcess(n, join(dir, `client-n${n}.log`), (m) =>
        onClient(c, m),
      );
      clients.push(c);
    }
    // one clock: each client's stamp must fall between our ping and its answer
    for (const c of clients) {
      const before = monotonicNs();
      const pong = await c.request<Extract<FromClient, { type: 'pong' }>>(
        (id) => ({ type: 'ping', id }),
        60_000,
      );
      const after = monotonicNs();
      const ns = BigInt(pong.ns);
      if (ns < before || ns > after)
        throw new Error(`client on node ${c.node} does not read the harness's clock`);
    }
    log('waiting for every serve to be healthy');
    if ((await allHealthy(clients, 60_000)) === undefined)
      throw new Error('the serves did not become healthy within 60 s of their start');
    for (const c of clients)
      c.send({
        type: 'start',
        group,
        node: c.node,
        seed: o.seed,
        opTimeout,
        readConsistency: o.staleReads === true ? 'stale' : 'linearizable',
      });

    // the nemesis
    const end = performance.now() + o.timeMs;
    fault('phase', { phase: 'faults' });
    while (performance.now() < end) {
      await sleep(1000 + rng.int(4000));
      if (performance.now() >= end) break;
      const kind: FaultKind = nemesis.choose();
      const hold = Math.min(2000 + rng.int(8000), Math.max(1000, end - performance.now()));
      log(`fault ${kind} (${Math.round(hold)} ms)`);
      await nemesis.run(kind, hold);
    }

    // heal, stop the clients, liveness
    fault('phase', { phase: 'heal' });
    await nemesis.healAll();
    const healed = performance.now();
    log('healed; stopping the clients');
    await Promise.all(
      clients.map((c) =>
        c.request((id) => ({ type: 'stop', id }), 4 * opTimeout + 30_000).catch(() => undefined),
      ),
    );
    log('waiting for every serve to be healthy (liveness)');
    const healthy = await allHealthy(clients, 90_000);
    const liveness: Anomaly[] = [];
    if (healthy === undefined) {
      const why = await Promise.all(
        clients.map((c) => health(c).then((h) => `n${c.node}: ${h.status} ${h.body}`)),
      );
      liveness.push({
        kind: 'liveness',
        message: `90 s after every fault was healed not every serve is healthy: ${why.join('; ')}`,
        window: [],
      });
    } else {
      convergedMs = performance.now() - healed;
      fault('phase', { phase: 'healthy' });
    }
    const status = await clusterStatus(group);
    fault('status', status);
    if (status.store?.digestsAgree === false || status.locks?.digestsAgree === false) {
      liveness.push({
        kind: 'digests',
        message: `cpgkit status: the replicas' digests disagree (${JSON.stringify(status.problems)})`,
        window: [],
      });
    }
    log('final reads');
    const reads = await Promise.all(
      clients.map((c) =>
        c
          .request<Extract<FromClient, { type: 'final' }>>((id) => ({ type: 'final', id }), 60_000)
          .catch((e: unknown) => ({ registers: { error: String(e) }, set: { error: String(e) } })),
      ),
    );
    reads.forEach((r, i) => {
      finals[`n${i + 1}`] = {
        registers: r.registers as Value,
        set: Array.isArray(r.set)
          ? [...(r.set as number[])].sort((a, b) => a - b)
          : (r.set as Value),
      };
    });
    const shown = new Set(Object.values(finals).map((f) => JSON.stringify(f)));
    const readFailed = Object.entries(finals).filter(([, f]) =>
      JSON.stringify(f).includes('"error"'),
    );
    if (readFailed.length > 0)
      liveness.push({
        kind: 'final-read',
        message: `final reads failed after healing on ${readFailed.map(([n]) => n).join(', ')}`,
        window: [],
      });
    else if (shown.size > 1)
      liveness.push({
        kind: 'agreement',
        message: `the nodes' final reads differ: ${Object.entries(finals)
          .map(([n, f]) => `${n} ${JSON.stringify((f as { registers: Value }).registers)}`)
          .join('; ')}`,
        window: [],
      });
    verdicts.push({
      checker: 'liveness',
      valid: liveness.length === 0,
      anomalies: liveness,
      stats: { convergedMs: Math.round(convergedMs ?? -1) },
    });
  } catch (e) {
    failed = true;
    throw e;
  } finally {
    await nemesis.healAll().catch(() => undefined);
    await Promise.all(clients.map((c) => c.close()));
    await serves.stopAll();
    if (broughtUp && !o.keepCluster) await cluster(['down']).catch(() => undefined);
  }

  const records = Object.fromEntries(WORKLOADS.map((w) => [w, histories[w].records(t0)])) as Record<
    WorkloadName,
    HistoryRecord[]
  >;
  verdicts.push(
    checkRegister(records.register),
    checkSet(records.set),
    checkLocks(records.lock),
    checkElection(records.election),
  );
  const valid = verdicts.every((v) => v.valid);
  if (valid && !failed) await rm(dir, { recursive: true, force: true });
  return {
    seed: o.seed,
    nodes,
    group,
    timeMs: o.timeMs,
    wallMs: performance.now() - started,
    faults: faults.records(t0),
    histories: records,
    verdicts,
    valid,
    faultCounts: Object.fromEntries(nemesis.counts),
    finals,
    convergedMs,
    logsDir: dir,
  };

  function onClient(c: ClientProcess, m: FromClient): void {
    if (m.type === 'record') {
      histories[m.workload].add(BigInt(m.ns), c.node, m.rec);
    } else if (m.type === 'fence') {
      // the fenced resource decides, on the harness's clock
      let r = resources.get(m.name);
      if (r === undefined) resources.set(m.name, (r = new FencedResource()));
      let accepted = true;
      try {
        r.check(BigInt(m.token));
      } catch (e) {
        if (!(e instanceof StaleTokenError)) throw e;
        accepted = false;
      }
      histories.lock.add(monotonicNs(), c.node, {
        kind: 'event',
        process: m.process,
        event: 'fenced-write',
        value: {
          name: m.name,
          grant: m.grant,
          token: m.token,
          accepted,
          highest: r.highest.toString(),
        },
      });
      c.send({ type: 'fenced', req: m.req, accepted, highest: r.highest.toString() });
    }
  }
}

async function health(c: ClientProcess): Promise<{ status: number; body: string }> {
  try {
    return await c.request<Extract<FromClient, { type: 'health' }>>(
      (id) => ({ type: 'health', id, port: HTTP_PORT }),
      10_000,
    );
  } catch (e) {
    return { status: 0, body: String(e) };
  }
}

/** Wait until every node's serve answers 200 on /healthz; the ms it took, or undefined. */
async function allHealthy(
  clients: readonly ClientProcess[],
  timeoutMs: number,
): Promise<number | undefined> {
  const t = performance.now();
  while (performance.now() - t < timeoutMs) {
    const hs = await Promise.all(clients.map(health));
    if (hs.every((h) => h.status === 200)) return performance.now() - t;
    await sleep(500);
  }
  return undefined;
}

interface StatusSummary {
  store?: { digestsAgree?: boolean };
  locks?: { digestsAgree?: boolean };
  problems?: string[];
  [k: string]: Value | undefined;
}

/** `cpgkit status --group G --json` on node 1 (what an operator would check). */
async function clusterStatus(group: string): Promise<StatusSummary & Value> {
  const r = await new Promise<string>((resolve) => {
    execFile(
      'ip',
      [
        'netns',
        'exec',
        namespaceOf(1),
        process.execPath,
        cliPath,
        'status',
        '--group',
        group,
        '--json',
      ],
      { cwd: repoRoot, encoding: 'utf8', timeout: 30_000 },
      (_e, stdout) => resolve(stdout),
    );
  });
  try {
    const s = JSON.parse(r) as Record<string, Value>;
    return {
      store: s.store as Value,
      locks: s.locks as Value,
      problems: s.problems as Value,
    } as StatusSummary & Value;
  } catch {
    return { problems: [`cpgkit status printed no JSON: ${r.slice(0, 200)}`] };
  }
}
