/**
 * The demo's story, in five acts, against any `ClusterControl`: the members and who leads;
 * the config store written from different nodes and read everywhere; a lock passing between
 * nodes with its fencing tokens; the leader's node cut off and the failover; the heal and the
 * state converging. Returns the figures of the summary line.
 * @module
 */
import type { ClusterControl, DemoNode, NodeEvent } from './node.js';
import type { NodeRow, TerminalView } from './view.js';

/** The demo's last line, as an object. */
export interface Summary {
  readonly transport: 'memory' | 'corosync';
  readonly nodes: number;
  /** How many times leadership moved from one node to another. */
  readonly leaderChanges: number;
  /** How many lock grants the demo saw (each with a fencing token). */
  readonly lockGrants: number;
  /** How many config writes were applied. */
  readonly configWrites: number;
  /** Whether every node ended ready with the same state digests as every other node. */
  readonly converged: boolean;
}

/** Options for `runScenario`. */
export interface ScenarioOptions {
  /** Pause between steps (ms) so that a person can follow. 0 in fast mode. */
  readonly pauseMs: number;
}

const LOCK = 'deploy';

/** Run the story on `cluster`, narrating it on `view`. */
export async function runScenario(
  cluster: ClusterControl,
  view: TerminalView,
  options: ScenarioOptions,
): Promise<Summary> {
  const story = new Story(cluster, view, options);
  try {
    return await story.run();
  } finally {
    story.stop();
  }
}

/** An election as the demo saw it. */
interface Election {
  readonly node: number;
  readonly term: number;
}

class Story {
  readonly #cluster: ClusterControl;
  readonly #view: TerminalView;
  readonly #pauseMs: number;
  readonly #elections: Election[] = [];
  readonly #waiters = new Set<() => void>();
  readonly #refresher: NodeJS.Timeout;
  #rows: NodeRow[] = [];
  #lockGrants = 0;
  #configWrites = 0;
  #isolated: number | undefined;

  constructor(cluster: ClusterControl, view: TerminalView, options: ScenarioOptions) {
    this.#cluster = cluster;
    this.#view = view;
    this.#pauseMs = options.pauseMs;
    // the first act's header before the events the nodes saw while starting (replayed now)
    view.act('1/5', `members and leader (${cluster.transport})`);
    for (const n of cluster.nodes) n.onEvent((e) => this.#onEvent(n, e));
    this.#refresher = setInterval(() => void this.#refresh(), 150);
  }

  async run(): Promise<Summary> {
    const { nodes } = this.#cluster;
    const [n1, n2, n3] = nodes as [DemoNode, DemoNode, DemoNode];

    // ── act 1 ────────────────────────────────────────────────────────────────────────────
    await Promise.all(nodes.map((n) => n.ready(30_000)));
    await this.#refresh();
    const members = this.#rows.map((r) => `node ${r.node} (pid ${r.pid ?? '?'})`).join(', ');
    this.#view.event(undefined, `members: ${members}; synced and quorate`, 'good');
    const first = await this.#until(() => this.#leader(), 15_000, 'a leader to be elected');
    this.#view.event(first.node, `leads (term ${first.term}); the others observe it`, 'good');
    await this.#act();

    // ── act 2 ────────────────────────────────────────────────────────────────────────────
    this.#view.act('2/5', 'a config store written from every node, read everywhere');
    await this.#set(n1, 'color', 'blue');
    await this.#set(n2, 'replicas', 3);
    await this.#set(n3, 'color', 'green');
    // reads are local: give the other replicas a moment to apply the last write
    const agree = await this.#eventually(async () => {
      await this.#refresh();
      return this.#rows.every((r) => r.config.color === 'green' && r.config.replicas === 3);
    }, 5_000);
    this.#view.event(
      undefined,
      agree
        ? 'every node reads color=green replicas=3 locally: writes applied in one agreed order'
        : 'nodes disagree on the config (they should not)',
      agree ? 'good' : 'bad',
    );
    await this.#act();

    // ── act 3 ────────────────────────────────────────────────────────────────────────────
    this.#view.act('3/5', `lock "${LOCK}" passing between nodes, with fencing tokens`);
    const turns = await Promise.all(
      nodes.map(async (n, i) => {
        await sleep(i * 20); // ask in order 1, 2, 3: the lock is fair (FIFO in agreed order)
        this.#view.event(n.node, `asks for "${LOCK}"`);
        const turn = await n.lockTurn(LOCK, Math.max(200, this.#pauseMs / 2), 15_000);
        this.#lockGrants++;
        this.#view.event(
          n.node,
          `held "${LOCK}" with token ${turn.token} (waited ${Math.round(turn.waitedMs)} ms), released`,
          'good',
        );
        return BigInt(turn.token);
      }),
    );
    const increasing = [...turns]
      .sort((a, b) => (a < b ? -1 : 1))
      .every((t, i, a) => i === 0 || t > a[i - 1]!);
    this.#view.event(
      undefined,
      `tokens ${turns.join(', ')}: ${increasing ? 'each grant newer than the last' : 'NOT increasing'}`,
      increasing ? 'good' : 'bad',
    );
    await this.#act();

    // ── act 4 ────────────────────────────────────────────────────────────────────────────
    this.#view.act('4/5', "failure: the leader's node is cut off");
    const before = this.#leader()!;
    const majority = nodes.filter((n) => n.node !== before.node);
    this.#isolated = before.node;
    this.#view.event(before.node, 'network cut: this node is alone in a minority', 'bad');
    await this.#cluster.isolate(before.node);
    const next = await this.#until(
      () => {
        const l = this.#leader();
        return l && l.node !== before.node && l.term > before.term ? l : undefined;
      },
      20_000,
      'the majority to elect a new leader',
    );
    this.#view.event(next.node, `failover: leads now (term ${next.term})`, 'good');
    const writer = majority[0]!;
    await this.#set(writer, 'leader', `node ${next.node}`);
    await this.#lockOn(majority[1]!);
    const cut = nodes.find((n) => n.node === before.node)!;
    try {
      await cut.set('color', 'red');
      this.#configWrites++;
      this.#view.event(cut.node, 'wrote color=red without quorum (it must not)', 'bad');
    } catch (err) {
      this.#view.event(
        cut.node,
        `write refused: ${(err as Error).name}: ${(err as Error).message.split(':')[0]}`,
        'good',
      );
    }
    await this.#act();

    // ── act 5 ────────────────────────────────────────────────────────────────────────────
    this.#view.act('5/5', 'heal: the cut-off node comes back and converges');
    await this.#cluster.heal();
    this.#isolated = undefined;
    this.#view.event(undefined, 'network healed');
    await Promise.all(nodes.map((n) => n.ready(30_000)));
    this.#view.event(before.node, 'synced with the majority', 'good');
    const converged = await this.#converged(15_000);
    await this.#refresh();
    const digests = await Promise.all(nodes.map((n) => n.digests()));
    this.#view.event(
      undefined,
      `state digests ${digests.map((d) => d.map(short).join('/')).join(' | ')}: ${converged ? 'equal on every node' : 'DIFFERENT'}`,
      converged ? 'good' : 'bad',
    );
    this.#view.table();

    return {
      transport: this.#cluster.transport,
      nodes: nodes.length,
      leaderChanges: this.#leaderChanges(),
      lockGrants: this.#lockGrants,
      configWrites: this.#configWrites,
      converged,
    };
  }

  stop(): void {
    clearInterval(this.#refresher);
  }

  async #set(node: DemoNode, key: string, value: unknown): Promise<void> {
    const revision = await node.set(key, value);
    this.#configWrites++;
    this.#view.event(node.node, `set ${key}=${JSON.stringify(value)} (revision ${revision})`);
    await this.#refresh();
  }

  async #lockOn(node: DemoNode): Promise<void> {
    const turn = await node.lockTurn(LOCK, 200, 15_000);
    this.#lockGrants++;
    this.#view.event(node.node, `held "${LOCK}" with token ${turn.token}, released`, 'good');
  }

  /** The end of an act: the panel as a table (plain mode), and a pause to read it. */
  async #act(): Promise<void> {
    await this.#refresh();
    this.#view.table();
    await sleep(this.#pauseMs);
  }

  #onEvent(node: DemoNode, e: NodeEvent): void {
    switch (e.type) {
      case 'elected':
        this.#elections.push({ node: node.node, term: e.term });
        this.#view.event(node.node, `elected leader (term ${e.term})`, 'good');
        break;
      case 'deposed':
        this.#view.event(node.node, `stops leading (term ${e.term}): ${e.reason}`, 'bad');
        break;
      case 'config':
        this.#view.event(
          node.node,
          `watch: ${e.key}=${JSON.stringify(e.value)} (revision ${e.revision})`,
        );
        break;
      case 'status':
        this.#view.event(
          node.node,
          `replica ${e.status}`,
          e.status === 'ready' ? 'good' : e.status === 'syncing' ? 'info' : 'bad',
        );
        break;
      case 'leader':
        break;
    }
    for (const w of this.#waiters) w();
  }

  /** The newest election (highest term) that the demo saw. */
  #leader(): Election | undefined {
    let best: Election | undefined;
    for (const e of this.#elections) if (!best || e.term > best.term) best = e;
    return best;
  }

  #leaderChanges(): number {
    const ordered = [...this.#elections].sort((a, b) => a.term - b.term);
    let changes = 0;
    for (let i = 1; i < ordered.length; i++)
      if (ordered[i]!.node !== ordered[i - 1]!.node) changes++;
    return changes;
  }

  /** Poll `check` until it holds (true) or `timeoutMs` passes (false). */
  async #eventually(check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
    const deadline = performance.now() + timeoutMs;
    while (!(await check())) {
      if (performance.now() > deadline) return false;
      await sleep(50);
    }
    return true;
  }

  /** Whether every node is ready with the same digests, polled until `timeoutMs`. */
  async #converged(timeoutMs: number): Promise<boolean> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const rows = await Promise.all(this.#cluster.nodes.map((n) => n.row()));
      const digests = await Promise.all(this.#cluster.nodes.map((n) => n.digests()));
      const same = digests.every((d) => JSON.stringify(d) === JSON.stringify(digests[0]));
      if (same && rows.every((r) => r.status === 'ready')) return true;
      if (performance.now() > deadline) return false;
      await sleep(100);
    }
  }

  async #refresh(): Promise<void> {
    try {
      const rows = await Promise.all(this.#cluster.nodes.map((n) => n.row()));
      this.#rows = rows.map((r) =>
        r.node === this.#isolated
          ? { ...r, status: r.status === 'ready' ? 'cut off' : r.status }
          : r,
      );
      this.#view.update(this.#rows);
    } catch {
      // a node that is going away: the next refresh shows it
    }
  }

  /** Wait until `check` returns something (re-checked on every node event and every 100 ms). */
  async #until<T>(check: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
    const found = check();
    if (found !== undefined) return found;
    return new Promise<T>((resolve, reject) => {
      const tick = () => {
        const v = check();
        if (v !== undefined) done(() => resolve(v));
      };
      const timer = setTimeout(
        () => done(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`))),
        timeoutMs,
      );
      const poll = setInterval(tick, 100);
      const done = (f: () => void) => {
        clearTimeout(timer);
        clearInterval(poll);
        this.#waiters.delete(tick);
        f();
      };
      this.#waiters.add(tick);
    });
  }
}

function short(digest: string): string {
  return digest.slice(0, 8);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
