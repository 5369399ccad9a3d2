import { describe, expect, it } from 'vitest';
import { MemoryCluster } from '@cpgkit/core/testing';
import { Locks, locksMachine, type LeaderInfo } from '@cpgkit/locks';
import { ReplicatedStateMachine } from '@cpgkit/statemachine';
import { runWorker, watchLeader, type JobRun } from '../src/worker.js';

const ELECTION = 'report-job';

describe('leader election: only the leader runs the job, a standby takes over', () => {
  it('crash the leader: another node takes over with a newer term; never two runners in one term', async () => {
    const cluster = new MemoryCluster({ nodes: 3, seed: 17 });
    const stop = new AbortController();
    const runs: (JobRun & { at: number })[] = [];
    const observed: LeaderInfo[] = [];
    const workers = await Promise.all(
      [1, 2, 3].map(async (node) => {
        const opening = ReplicatedStateMachine.open(cluster.member(node), locksMachine(), {
          groupName: 'election-test',
        });
        await cluster.runUntilIdle();
        const locks = new Locks(await opening, { closeMachine: true });
        return { node, locks };
      }),
    );
    await cluster.runUntilIdle();
    const done = workers.map(({ node, locks }) =>
      runWorker({
        locks,
        election: ELECTION,
        node,
        intervalMs: 100,
        signal: stop.signal,
        job: (run) => {
          runs.push({ ...run, at: cluster.clock.now() });
        },
      }),
    );
    // node 3 observes the election (any member can)
    const watching = watchLeader(workers[2]!.locks, ELECTION, stop.signal, (info) =>
      observed.push(info),
    );

    await cluster.advance(1_000);
    const firstTerm = runs[0]!.term;
    const leader = runs[0]!.node;
    expect(runs.length).toBeGreaterThanOrEqual(9);
    expect(runs.every((r) => r.node === leader && r.term === firstTerm)).toBe(true);

    const crashAt = cluster.clock.now();
    cluster.crashNode(leader);
    await cluster.advance(2_000);

    const after = runs.filter((r) => r.at > crashAt);
    expect(after.length).toBeGreaterThanOrEqual(10);
    const next = after[0]!;
    expect(next.node).not.toBe(leader);
    expect(next.term).toBeGreaterThan(firstTerm);
    // the old leader stopped when its node died; the new one started after that
    expect(runs.filter((r) => r.term === firstTerm).every((r) => r.at <= crashAt)).toBe(true);
    // never two runners in the same term
    const runnersByTerm = new Map<bigint, Set<number>>();
    for (const r of runs)
      runnersByTerm.set(r.term, (runnersByTerm.get(r.term) ?? new Set()).add(r.node));
    for (const nodes of runnersByTerm.values()) expect(nodes.size).toBe(1);

    // observe(): the watcher saw the first leader, then the new one
    const seen = observed.filter((i) => i.leader !== null).map((i) => [i.leader!.nodeid, i.term]);
    expect(seen).toContainEqual([leader, firstTerm]);
    expect(seen.at(-1)).toEqual([next.node, next.term]);

    stop.abort();
    await cluster.advance(500);
    await Promise.all([...done, watching]);
    await Promise.all(workers.map((w) => w.locks.close()));
    cluster.destroy();
  });
});
