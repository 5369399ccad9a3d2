/**
 * `cpgkit lock` and `cpgkit leader` run inside the nodes' network namespaces, as users run
 * them, as clients of a `cpgkit serve` on every node: their commands write to a shared file,
 * which tells who ran when.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { requireCluster } from '../harness/availability.js';
import { Serves } from '../harness/cli.js';
import { repoRoot } from '../harness/cluster.js';
import { RealCluster } from '../harness/real-cluster.js';

const env = requireCluster();
const cli = join(repoRoot, 'packages', 'cli', 'bin', 'cpgkit.js');
const run = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Running {
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  stderr(): string;
}

/** `cpgkit ARGS...` on node N, as a running process. */
function cpgkit(node: number, args: string[]): Running {
  const ns = env!.nodes.find((n) => n.node === node)!.namespace;
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, cli, ...args], {
    cwd: repoRoot,
    stdio: ['ignore', 'inherit', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exited, stderr: () => stderr };
}

function lines(file: string): string[] {
  return existsSync(file)
    ? readFileSync(file, 'utf8')
        .split('\n')
        .filter((l) => l !== '')
    : [];
}

function unique(what: string): string {
  return `cli-locks-${what}-${process.pid}-${Math.floor(Math.random() * 1e9).toString(36)}`;
}

describe('cpgkit lock and cpgkit leader on the real cluster', () => {
  let fx: RealCluster | undefined;
  let serves: Serves | undefined;
  const running: Running[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'cpgkit-locks-cli-'));

  /** A `cpgkit serve` for `group` on every node, ready. */
  async function serve(group: string): Promise<void> {
    serves = new Serves(env!, group, dir);
    await serves.start(1, 2, 3);
  }

  beforeAll(async () => {
    if (!env) return;
    // the bin runs dist/
    await run(
      process.execPath,
      [join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '-b', 'tsconfig.build.json'],
      {
        cwd: repoRoot,
      },
    );
  }, 300_000);

  afterEach(async () => {
    for (const r of running.splice(0)) {
      // SIGTERM first: cpgkit stops its command; then make sure
      r.child.kill('SIGTERM');
      const t = setTimeout(() => r.child.kill('SIGKILL'), 8000);
      await r.exited;
      clearTimeout(t);
    }
    await fx?.close();
    fx = undefined;
    await serves?.stopAll();
    serves = undefined;
  });

  it('cpgkit lock: one command at a time across the nodes, tokens increase, exit codes pass through', async () => {
    const group = unique('lock');
    await serve(group);
    const file = join(dir, `${group}.log`);
    const script = (n: number) =>
      `echo start ${n} $CPGKIT_FENCING_TOKEN >> ${file}; sleep 0.3; echo end ${n} >> ${file}; exit ${n}`;
    const procs = [1, 2, 3].map((n) =>
      cpgkit(n, ['lock', '--group', group, '--timeout', '30', 'job', '--', 'sh', '-c', script(n)]),
    );
    running.push(...procs);
    const codes = await Promise.all(procs.map((p) => p.exited));
    expect(codes).toEqual([1, 2, 3]);
    const log = lines(file);
    expect(log).toHaveLength(6);
    let last = 0n;
    for (let i = 0; i < 6; i += 2) {
      const [, n, token] = log[i]!.split(' ');
      expect(log[i + 1]).toBe(`end ${n}`); // nobody started before the holder ended
      expect(BigInt(token!)).toBeGreaterThan(last);
      last = BigInt(token!);
    }
  });

  it('cpgkit lock: times out with exit 6', async () => {
    const group = unique('timeout');
    await serve(group);
    const holder = cpgkit(1, ['lock', '--group', group, 'job', '--', 'sleep', '5']);
    running.push(holder);
    await sleep(1500);
    const waiter = cpgkit(2, ['lock', '--group', group, '--timeout', '1', 'job', '--', 'true']);
    running.push(waiter);
    expect(await waiter.exited).toBe(6); // EXIT_TIMEOUT
    expect(waiter.stderr()).toMatch(/timed out/);
  });

  it('cpgkit lock: a holder cut off from the majority stops its command and exits 3; the majority runs next', async () => {
    fx = await RealCluster.open();
    const group = unique('cut');
    await serve(group);
    const file = join(dir, `${group}.log`);
    const script = (n: number) =>
      `trap 'echo stop ${n} >> ${file}; exit 0' TERM; echo start ${n} $CPGKIT_FENCING_TOKEN >> ${file}; while true; do sleep 0.1; done`;
    const one = cpgkit(1, ['lock', '--group', group, 'job', '--', 'sh', '-c', script(1)]);
    running.push(one);
    await fx.waitFor(() => lines(file).length === 1, 20_000, 'node 1 to hold the lock');
    const two = cpgkit(2, [
      'lock',
      '--group',
      group,
      '--timeout',
      '60',
      'job',
      '--',
      'sh',
      '-c',
      `echo start 2 $CPGKIT_FENCING_TOKEN >> ${file}`,
    ]);
    running.push(two);
    // a third waiter, on the majority side too
    const three = cpgkit(3, ['lock', '--group', group, '--timeout', '60', 'job', '--', 'true']);
    running.push(three);
    await sleep(1500);
    await fx.partition([1], [2, 3]);
    expect(await one.exited).toBe(3);
    expect(one.stderr()).toMatch(/lost/);
    expect(await two.exited).toBe(0);
    expect(await three.exited).toBe(0);
    const log = lines(file);
    expect(log.indexOf('stop 1')).toBeGreaterThan(0);
    const t1 = BigInt(log.find((l) => l.startsWith('start 1'))!.split(' ')[2]!);
    const t2 = BigInt(log.find((l) => l.startsWith('start 2'))!.split(' ')[2]!);
    expect(t2).toBeGreaterThan(t1);
  });

  async function leaders(group: string, file: string): Promise<Map<number, Running>> {
    const script = (n: number) =>
      `trap 'echo stop ${n} >> ${file}; exit 0' TERM; echo start ${n} $CPGKIT_TERM >> ${file}; while true; do sleep 0.1; done`;
    const procs = new Map<number, Running>();
    for (const n of [1, 2, 3]) {
      const p = cpgkit(n, [
        'leader',
        '--verbose',
        '--group',
        group,
        'chief',
        '--',
        'sh',
        '-c',
        script(n),
      ]);
      procs.set(n, p);
      running.push(p);
    }
    await fx!.waitFor(() => lines(file).length >= 1, 20_000, 'a first leader');
    await sleep(500);
    expect(lines(file)).toHaveLength(1); // exactly one leader runs
    return procs;
  }
  const starts = (file: string) => lines(file).filter((l) => l.startsWith('start'));

  it('cpgkit leader: one leader runs; on SIGTERM it stops its command, resigns, and the next takes over', async () => {
    fx = await RealCluster.open();
    const group = unique('leader');
    await serve(group);
    const file = join(dir, `${group}.log`);
    const procs = await leaders(group, file);
    const [, first, term1] = lines(file)[0]!.split(' ');
    const t0 = performance.now();
    procs.get(Number(first))!.child.kill('SIGTERM');
    expect(await procs.get(Number(first))!.exited).toBe(0);
    await fx.waitFor(() => starts(file).length === 2, 20_000, 'a second leader');
    console.log(
      `real cluster: cpgkit leader hand-over after SIGTERM of the leader: ${(performance.now() - t0).toFixed(0)} ms`,
    );
    const [, , term2] = starts(file)[1]!.split(' ');
    expect(BigInt(term2!)).toBeGreaterThan(BigInt(term1!));
    expect(lines(file)).toContain(`stop ${first}`);
  });

  it('cpgkit leader: a leader cut off from the majority stops its command; the majority elects a new term', async () => {
    fx = await RealCluster.open();
    const group = unique('leader-cut');
    await serve(group);
    const file = join(dir, `${group}.log`);
    const procs = await leaders(group, file);
    const [, first, term1] = lines(file)[0]!.split(' ');
    const cut = Number(first);
    const story = () =>
      [...lines(file), ...[...procs].map(([n, p]) => `node ${n} stderr: ${p.stderr()}`)].join('\n');
    const t0 = performance.now();
    await fx.partition(
      [cut],
      [1, 2, 3].filter((n) => n !== cut),
    );
    await fx.waitFor(
      () => lines(file).includes(`stop ${cut}`),
      20_000,
      'the cut-off leader to stop its command',
    );
    await fx.waitFor(() => starts(file).length === 2, 20_000, 'a leader in the majority');
    console.log(
      `real cluster: cpgkit leader: new leader ${(performance.now() - t0).toFixed(0)} ms after the partition command started`,
    );
    const [, second, term2] = starts(file)[1]!.split(' ');
    expect(Number(second)).not.toBe(cut);
    expect(BigInt(term2!)).toBeGreaterThan(BigInt(term1!));
    // the cut-off one campaigns again: after healing it waits in line behind the new leader
    const cutOff = procs.get(cut)!;
    const alive = () => cutOff.child.exitCode === null && cutOff.child.signalCode === null;
    expect(alive(), `the cut-off cpgkit leader exited\n${story()}`).toBe(true);
    expect(cutOff.stderr(), story()).toMatch(/campaigning again/);
    await fx.heal();
    await sleep(3000);
    expect(starts(file), story()).toHaveLength(2);
    // still running: it campaigns (waits in line) rather than exiting
    expect(alive(), `the cut-off cpgkit leader exited after the heal\n${story()}`).toBe(true);
  });
});
