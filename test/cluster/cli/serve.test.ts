/**
 * `cpgkit serve` (one per node) with `cpgkit lock`, `leader`, `kv` and `status` as its clients,
 * on the real 3-node cluster, run as users run them (inside the nodes' network namespaces):
 * the cron-style lock use of issue 13, client and agent crashes, rolling and full restarts,
 * no agent at all, a node's corosync killed and started, status, /healthz and /metrics.
 *
 * Past 500 lines on purpose: each test is one scenario told from start to end, and they all
 * share this suite's own helpers (clients per node, the serves of a group, a teardown that
 * stops whatever a test left running); the helpers other suites share are in ../harness.
 */
import { mkdtempSync, readFileSync, existsSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { requireCluster } from '../harness/availability.js';
import {
  buildCli,
  runCli,
  serveReady,
  Serves,
  spawnCli,
  until,
  type CliProcess,
} from '../harness/cli.js';
import { execOnNode } from '../harness/cluster.js';
import { RealCluster } from '../harness/real-cluster.js';

const env = requireCluster();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Exit codes of cpgkit (packages/cli/src/exit-codes.ts). */
const EXIT_NO_REPLICA = 4;
/** Port of the serves' --http (each node is its own network namespace). */
const HTTP_PORT = 9464;

function lines(file: string): string[] {
  return existsSync(file)
    ? readFileSync(file, 'utf8')
        .split('\n')
        .filter((l) => l !== '')
    : [];
}

function unique(what: string): string {
  return `serve-${what}-${process.pid}-${Math.floor(Math.random() * 1e9).toString(36)}`;
}

/** GET http://127.0.0.1:PORT/PATH from inside node N's namespace: status and body. */
async function httpGet(node: number, path: string): Promise<{ status: number; body: string }> {
  const script = `fetch('http://127.0.0.1:${HTTP_PORT}${path}').then(async (r) => { process.stdout.write(JSON.stringify({ status: r.status, body: await r.text() })); }, (e) => { process.stdout.write(JSON.stringify({ status: 0, body: String(e) })); })`;
  const r = await execOnNode(node, [process.execPath, '-e', script], { timeoutMs: 15_000 });
  return JSON.parse(r.stdout) as { status: number; body: string };
}

/** Parse Prometheus text: `name{labels}` -> value. Throws on a line that is not the format. */
function parseProm(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('# HELP ') || line.startsWith('# TYPE ')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (-?[0-9.e+-]+|NaN|[+-]Inf)$/.exec(line);
    if (!m) throw new Error(`not Prometheus text: ${line}`);
    out.set(m[1]!, Number(m[2]));
  }
  return out;
}

interface StatusJson {
  cluster: { quorate: boolean; nodeid: number; votequorum: { expectedVotes: number } | null };
  agents: { nodeid: number; state: string; store: { replicaId: string; status: string } }[];
  store: {
    replicaSet: string[];
    majority: boolean;
    digestsAgree: boolean;
    revision: number;
    keys: number;
  };
  locks: {
    replicaSet: string[];
    majority: boolean;
    digestsAgree: boolean;
    locks: { name: string; holders: { nodeid: number; token: string }[]; waiters: unknown[] }[];
    elections: { name: string; term: string }[];
  };
  problems: string[];
}

describe('cpgkit serve and its clients on the real 3-node cluster', () => {
  const dataRoot = mkdtempSync(join(tmpdir(), 'cpgkit-serve-'));
  const clients = new Set<CliProcess>();
  let serves: Serves | undefined;
  let fx: RealCluster | undefined;

  function client(node: number, args: string[]): CliProcess {
    const p = spawnCli(env!, node, args);
    clients.add(p);
    return p;
  }

  async function startServes(group: string, extra: string[] = []): Promise<Serves> {
    serves = new Serves(env!, group, dataRoot, extra);
    await serves.start(1, 2, 3);
    return serves;
  }

  beforeAll(async () => {
    if (env) await buildCli();
  }, 300_000);

  afterEach(async () => {
    for (const p of clients) {
      // SIGTERM first: cpgkit stops its command (which holds the output pipes); then make sure
      if (p.alive()) p.child.kill('SIGTERM');
      const t = setTimeout(() => p.child.kill('SIGKILL'), 8000);
      await p.exited;
      clearTimeout(t);
    }
    clients.clear();
    await fx?.close();
    fx = undefined;
    await serves?.stopAll();
    serves = undefined;
  });

  afterAll(() => rmSync(dataRoot, { recursive: true, force: true }));

  it('cron-style lock: 12 contended sections in token order, then each node alone gets the free lock, six times in turn', async () => {
    const group = unique('cron');
    await startServes(group);
    const file = join(dataRoot, `${group}.log`);
    const section = (n: number) =>
      `echo start ${n} $CPGKIT_FENCING_TOKEN >> ${file}; sleep 0.05; echo end ${n} >> ${file}`;
    for (let round = 0; round < 4; round++) {
      const runs = await Promise.all(
        [1, 2, 3].map((n) =>
          runCli(n, [
            'lock',
            '--group',
            group,
            '--timeout',
            '60',
            'res',
            '--',
            'sh',
            '-c',
            section(n),
          ]),
        ),
      );
      for (const r of runs) expect(r.code, r.stderr).toBe(0);
    }
    const log = lines(file);
    expect(log).toHaveLength(24);
    let last = 0n;
    for (let i = 0; i < 24; i += 2) {
      const [word, n, token] = log[i]!.split(' ');
      expect(word).toBe('start');
      expect(log[i + 1]).toBe(`end ${n}`); // nobody started before the holder ended
      expect(BigInt(token!)).toBeGreaterThan(last);
      last = BigInt(token!);
    }
    // the lock is free: each node alone gets it, in turn (the bug: only one node could)
    const times: number[] = [];
    for (const n of [1, 2, 3, 1, 2, 3]) {
      const r = await runCli(n, ['lock', '--group', group, '--timeout', '20', 'res', '--', 'true']);
      expect(r.code, `node ${n}: ${r.stderr}`).toBe(0);
      times.push(r.ms);
    }
    console.log(
      `real cluster: cpgkit lock on a free lock, whole command (node start, join, sync, grant, release): ${times.map((t) => t.toFixed(0)).join(', ')} ms`,
    );
    // the issue asks for 1 s; node.js itself takes a few hundred ms to start on this shared
    // machine, so the bound is wide (the bug was a 20 s wait and exit 1)
    for (const t of times) expect(t).toBeLessThan(3000);
  });

  it('cron-style leader: a contended round leads one at a time with terms upwards, then each node alone leads, six times in turn', async () => {
    const group = unique('leader');
    await startServes(group);
    const file = join(dataRoot, `${group}.log`);
    const term = (n: number) =>
      `echo start ${n} $CPGKIT_TERM >> ${file}; sleep 0.05; echo end ${n} >> ${file}`;
    const runs = await Promise.all(
      [1, 2, 3].map((n) =>
        runCli(n, ['leader', '--group', group, 'chief', '--', 'sh', '-c', term(n)]),
      ),
    );
    for (const r of runs) expect(r.code, r.stderr).toBe(0);
    const log = lines(file);
    expect(log).toHaveLength(6);
    let last = 0n;
    for (let i = 0; i < 6; i += 2) {
      const [, n, t] = log[i]!.split(' ');
      expect(log[i + 1]).toBe(`end ${n}`);
      expect(BigInt(t!)).toBeGreaterThan(last);
      last = BigInt(t!);
    }
    const times: number[] = [];
    for (const n of [1, 2, 3, 1, 2, 3]) {
      const r = await runCli(n, ['leader', '--group', group, 'chief', '--', 'true']);
      expect(r.code, `node ${n}: ${r.stderr}`).toBe(0);
      expect(r.stderr).toMatch(/leader of 'chief' in term/);
      times.push(r.ms);
    }
    console.log(
      `real cluster: cpgkit leader alone, whole command: ${times.map((t) => t.toFixed(0)).join(', ')} ms`,
    );
    for (const t of times) expect(t).toBeLessThan(3000);
  });

  it('kill -9 of a client holding a lock: the next waiter gets it within 1 s with a higher token', async () => {
    const group = unique('killclient');
    await startServes(group);
    const file = join(dataRoot, `${group}.log`);
    const holder = client(1, [
      'lock',
      '--group',
      group,
      'res',
      '--',
      'sh',
      '-c',
      `echo start 1 $CPGKIT_FENCING_TOKEN $$ >> ${file}; exec sleep 60`,
    ]);
    await until('node 1 to hold the lock', () => lines(file).length === 1);
    const waiter = client(2, [
      'lock',
      '--group',
      group,
      'res',
      '--',
      'sh',
      '-c',
      `echo start 2 $CPGKIT_FENCING_TOKEN $(date +%s%3N) >> ${file}`,
    ]);
    const status = async () =>
      JSON.parse((await runCli(3, ['status', '--group', group, '--json'])).stdout) as StatusJson;
    for (let i = 0; ; i++) {
      const s = await status();
      if (s.locks.locks.find((l) => l.name === 'res')?.waiters.length === 1) break;
      if (i > 100) throw new Error('the waiter never showed in status');
      await sleep(100);
    }
    const killedAt = Date.now();
    holder.child.kill('SIGKILL');
    await until('the waiter to get the lock', () => lines(file).length === 2, 10_000);
    const [, , t1, shPid] = lines(file)[0]!.split(' ');
    process.kill(Number(shPid), 'SIGKILL'); // the orphaned command of the killed holder
    await holder.exited;
    const [, , t2, at] = lines(file)[1]!.split(' ');
    expect(BigInt(t2!)).toBeGreaterThan(BigInt(t1!));
    console.log(
      `real cluster: lock hand-over after kill -9 of the holding client: ${Number(at) - killedAt} ms`,
    );
    expect(Number(at) - killedAt).toBeLessThan(1000);
    expect(await waiter.exited).toBe(0);
  });

  it("kill -9 of the serve on the holder's node: the holder keeps its lock, its command is not stopped", async () => {
    const group = unique('killserve');
    const s = await startServes(group);
    const file = join(dataRoot, `${group}.log`);
    const holder = client(1, [
      'lock',
      '--group',
      group,
      'res',
      '--',
      'sh',
      '-c',
      `echo start 1 >> ${file}; sleep 4; echo end 1 >> ${file}`,
    ]);
    await until('node 1 to hold the lock', () => lines(file).length === 1);
    await s.kill(1);
    expect(await holder.exited, holder.stderr()).toBe(0); // not 3: nothing was lost
    expect(lines(file)).toEqual(['start 1', 'end 1']);
    // the majority went on: the lock is free again for anyone
    const r = await runCli(2, ['lock', '--group', group, '--timeout', '20', 'res', '--', 'true']);
    expect(r.code, r.stderr).toBe(0);
  });

  it('rolling restart of the three serves while a client holds and another waits, then a full stop and start: tokens go on upwards, keys are all there', async () => {
    const group = unique('rolling');
    const s = await startServes(group);
    const file = join(dataRoot, `${group}.log`);
    const flag = join(dataRoot, `${group}.release`);
    for (let i = 0; i < 10; i++) {
      const r = await runCli(1 + (i % 3), ['kv', 'set', '--group', group, `k${i}`, String(i)]);
      expect(r.code, r.stderr).toBe(0);
    }
    const holder = client(1, [
      'lock',
      '--group',
      group,
      'res',
      '--',
      'sh',
      '-c',
      `echo start 1 $CPGKIT_FENCING_TOKEN >> ${file}; while [ ! -e ${flag} ]; do sleep 0.1; done`,
    ]);
    await until('node 1 to hold the lock', () => lines(file).length === 1);
    const waiter = client(3, [
      'lock',
      '--group',
      group,
      'res',
      '--',
      'sh',
      '-c',
      `echo start 3 $CPGKIT_FENCING_TOKEN >> ${file}`,
    ]);
    await sleep(1000);
    for (const n of [1, 2, 3]) {
      expect(await s.stop(n), s.running.get(n)!.stderr()).toBe(0);
      expect(s.running.get(n)!.stderr()).toMatch(/stopped at revision 10 \(10 keys\)/);
      await s.start(n);
      expect(holder.alive(), holder.stderr()).toBe(true);
      expect(waiter.alive(), waiter.stderr()).toBe(true);
    }
    expect(lines(file)).toHaveLength(1); // nobody else got it meanwhile
    await execOnNode(1, ['touch', flag]);
    expect(await holder.exited, holder.stderr()).toBe(0);
    expect(await waiter.exited, waiter.stderr()).toBe(0);
    const tokens = () => lines(file).map((l) => BigInt(l.split(' ')[2]!));
    expect(tokens()[1]!).toBeGreaterThan(tokens()[0]!);

    // full stop and start of all three
    for (const n of [1, 2, 3]) expect(await s.stop(n)).toBe(0);
    const none = await runCli(2, ['kv', 'get', '--group', group, '--timeout', '1', 'k1']);
    expect(none.code).toBe(EXIT_NO_REPLICA);
    await s.start(3, 1, 2);
    const list = await runCli(2, ['kv', 'list', '--group', group, '--json']);
    expect(list.code, list.stderr).toBe(0);
    expect((JSON.parse(list.stdout) as unknown[]).length).toBe(10);
    const r = await runCli(2, [
      'lock',
      '--group',
      group,
      '--timeout',
      '20',
      'res',
      '--',
      'sh',
      '-c',
      `echo start 2 $CPGKIT_FENCING_TOKEN >> ${file}`,
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(tokens()[2]!).toBeGreaterThan(tokens()[1]!);
  });

  it("flock's flags across nodes (-n busy exits 1 or -E's code, -c, a SIGSEGV child exits 139), kv -w json, and snapshot save on one node, restore --force on another", async () => {
    const group = unique('habits');
    await startServes(group);
    const flag = join(dataRoot, `${group}.held`);
    // the holder's command holds the lock until the test says so (not a fixed time: each
    // client below takes seconds to start on a busy machine)
    const release = join(dataRoot, `${group}.release`);
    const holder = client(1, [
      'lock',
      '--group',
      group,
      'job',
      '-c',
      `touch ${flag}; while [ ! -e ${release} ]; do sleep 0.1; done`,
    ]);
    await until('node 1 to hold the lock', () => existsSync(flag), 30_000);
    const busy = await runCli(2, ['lock', '--group', group, '-n', 'job', 'true']);
    expect(busy.code, busy.stderr).toBe(1);
    expect(busy.stderr).toMatch(/LockBusyError/);
    expect(
      (await runCli(3, ['lock', '--group', group, '-n', '-E', '75', 'job', 'true'])).code,
    ).toBe(75);
    writeFileSync(release, '');
    expect(await holder.exited).toBe(0);
    const segv = await runCli(2, [
      'lock',
      '--group',
      group,
      '-w',
      '20s',
      'job',
      '-c',
      'kill -SEGV $$',
    ]);
    expect(segv.code, segv.stderr).toBe(139);

    const set = await runCli(1, ['kv', 'set', '--group', group, '-w', 'json', 'app/x', '{"n":1}']);
    expect(set.code, set.stderr).toBe(0);
    const rev = (JSON.parse(set.stdout) as { revision: number }).revision;
    expect(rev).toBeGreaterThan(0);
    const file = join(dataRoot, `${group}.snapshot.json`);
    const save = await runCli(2, ['snapshot', 'save', '--group', group, file]);
    expect(save.code, save.stderr).toBe(0);
    expect((await runCli(3, ['kv', 'set', '--group', group, 'app/x', '2'])).code).toBe(0);
    const refused = await runCli(3, ['snapshot', 'restore', '--group', group, file]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/StoreNotEmptyError/);
    const restore = await runCli(3, ['snapshot', 'restore', '--group', group, '--force', file]);
    expect(restore.code, restore.stderr).toBe(0);
    const get = await runCli(1, ['kv', 'get', '--group', group, 'app/x']);
    expect(get.code, get.stderr).toBe(0);
    expect(JSON.parse(get.stdout)).toEqual({ n: 1 });
  });

  it('no serve running: lock, leader and kv exit 4 within their timeout, saying to run cpgkit serve', async () => {
    const group = unique('none');
    const cases: string[][] = [
      ['lock', '--group', group, '--timeout', '2', 'res', '--', 'true'],
      ['leader', '--group', group, '--timeout', '2', 'chief', '--', 'true'],
      ['kv', 'get', '--group', group, '--timeout', '2', 'k'],
      ['kv', 'set', '--group', group, '--timeout', '2', 'k', 'v'],
      ['kv', 'list', '--group', group, '--timeout', '2'],
    ];
    const runs = await Promise.all(cases.map((args, i) => runCli(1 + (i % 3), args)));
    runs.forEach((r, i) => {
      expect(r.code, `${cases[i]!.join(' ')}: ${r.stderr}`).toBe(EXIT_NO_REPLICA);
      expect(r.stderr).toContain(`run \`cpgkit serve --group ${group}`);
      expect(r.stderr).toMatch(/nothing was applied/);
      expect(r.ms).toBeLessThan(2000 + 4000); // the timeout, plus starting node on a busy machine
    });
    const st = await runCli(1, ['status', '--group', group, '--timeout', '1']);
    expect(st.code).toBe(EXIT_NO_REPLICA);
    expect(st.stdout).toMatch(/no agent of group/);
  });

  it("kill -9 of a node's corosync and start again: that node's serve reconnects by itself and is ready; nothing is lost", async () => {
    fx = await RealCluster.open();
    const group = unique('corosync');
    const s = await startServes(group);
    expect((await runCli(1, ['kv', 'set', '--group', group, 'before', '1'])).code).toBe(0);
    const s3 = s.running.get(3)!;
    const mark = s3.stderr().length;
    await fx.crashNode(3);
    await until('serve 3 to see its connection lost', () =>
      /lost the connection/.test(s3.stderr().slice(mark)),
    );
    expect((await runCli(1, ['kv', 'set', '--group', group, 'during', '2'])).code).toBe(0);
    const t0 = performance.now();
    await fx.restartNode(3);
    await execOnNode(3, ['true']);
    const quorate = performance.now();
    await until('serve 3 to be ready again', () => serveReady(s3, mark), 30_000);
    console.log(
      `real cluster: serve ready again ${(performance.now() - quorate).toFixed(0)} ms after node 3's corosync was back in the ring (${(performance.now() - t0).toFixed(0)} ms after starting it)`,
    );
    expect(performance.now() - quorate).toBeLessThan(10_000);
    expect(s3.alive()).toBe(true);
    // node 3's serve holds what was written while it was away: stop the other two and read
    await s.stop(1);
    await s.stop(2);
    const during = await runCli(3, ['kv', 'get', '--group', group, 'during']);
    expect(during.code, during.stderr).toBe(0);
    expect(during.stdout.trim()).toBe('2');
    const before = await runCli(3, ['kv', 'get', '--group', group, 'before']);
    expect(before.stdout.trim()).toBe('1');
  });

  it('status --json agrees on every node; /healthz turns 503 on an isolated node and 200 after the heal; /metrics parses and counts', async () => {
    fx = await RealCluster.open();
    const group = unique('status');
    await startServes(group, ['--http', `127.0.0.1:${HTTP_PORT}`]);
    for (let i = 0; i < 5; i++)
      expect((await runCli(1, ['kv', 'set', '--group', group, `k${i}`, String(i)])).code).toBe(0);
    const leader = client(2, ['leader', '--group', group, 'chief', '--', 'sleep', '60']);
    await until('a leader', () => /leader of 'chief'/.test(leader.stderr()));
    // one node after the other, and again while a replica reports a sync round: every status
    // command is itself a client that joins the groups, and starts their sync rounds
    const statuses: StatusJson[] = [];
    for (const n of [1, 2, 3]) {
      const deadline = performance.now() + 20_000;
      for (;;) {
        const r = await runCli(n, ['status', '--group', group, '--json']);
        if (r.code === 0 || performance.now() > deadline) {
          expect(r.code, r.stdout + r.stderr).toBe(0);
          statuses.push(JSON.parse(r.stdout) as StatusJson);
          break;
        }
        await new Promise((res) => setTimeout(res, 500));
      }
    }
    for (const s of statuses) {
      expect(s.problems).toEqual([]);
      expect(s.agents.map((a) => a.nodeid)).toEqual([1, 2, 3]);
      expect(s.store.replicaSet).toHaveLength(3);
      expect(s.store.majority).toBe(true);
      expect(s.store.digestsAgree).toBe(true);
      expect(s.locks.digestsAgree).toBe(true);
      expect(s.store.revision).toBe(5);
      expect(s.store.keys).toBe(5);
      expect(s.locks.elections.map((e) => e.name)).toEqual(['chief']);
      expect([...s.store.replicaSet].sort()).toEqual([...statuses[0]!.store.replicaSet].sort());
      expect(s.agents.map((a) => a.store.replicaId)).toEqual(
        statuses[0]!.agents.map((a) => a.store.replicaId),
      );
    }
    const text = await runCli(1, ['status', '--group', group]);
    expect(text.stdout).toMatch(/healthy/);

    for (const n of [1, 2, 3])
      expect(await httpGet(n, '/healthz')).toEqual({ status: 200, body: 'ok\n' });
    const metrics = parseProm((await httpGet(1, '/metrics')).body);
    expect(metrics.get('cpgkit_commands_applied_total{machine="store",result="ok"}')).toBe(5);
    expect(metrics.get('cpgkit_store_keys')).toBe(5);
    expect(metrics.get('cpgkit_ready{machine="store"}')).toBe(1);
    expect(metrics.get('cpgkit_replica_set_size{machine="locks"}')).toBe(3);
    expect(metrics.get('cpgkit_sync_rounds_total{machine="store"}')).toBeGreaterThan(0);
    expect(metrics.get('cpgkit_command_latency_seconds_count{machine="store"}')).toBe(5);

    await fx.partition([3], [1, 2]);
    for (let i = 0; ; i++) {
      const h = await httpGet(3, '/healthz');
      if (h.status === 503) {
        expect(h.body).toMatch(/minority/);
        break;
      }
      if (i > 100) throw new Error(`node 3 never said 503: ${JSON.stringify(h)}`);
      await sleep(200);
    }
    const minority = await runCli(3, ['status', '--group', group, '--json']);
    expect(minority.code).toBe(1);
    expect((JSON.parse(minority.stdout) as StatusJson).problems.length).toBeGreaterThan(0);
    expect((await httpGet(1, '/healthz')).status).toBe(200);
    await fx.heal();
    for (let i = 0; ; i++) {
      const h = await httpGet(3, '/healthz');
      if (h.status === 200) break;
      if (i > 150) throw new Error(`node 3 never said 200 again: ${JSON.stringify(h)}`);
      await sleep(200);
    }
  });
});
