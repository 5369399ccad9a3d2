/**
 * `cpgkit status`'s verdict from the agents' reports: per machine, the replica set `Q`, how
 * many of it are present, whether a majority is, whether the digests agree; the replicated
 * content (locks, leaders, store revision) from the most advanced ready replica; and the
 * problems that make the check fail.
 * @module
 */
import type { AgentReport, ElectionReport, LockReport, MachineReport } from './report.js';
import type { VoteQuorum } from './quorum-tool.js';

/** One machine across the agents. */
export interface MachineSummary {
  /** `Q` as the most advanced replica knows it. */
  readonly replicaSet: readonly string[];
  /** Members of `Q` whose agent answered (their replica ids). */
  readonly present: number;
  /** A strict majority of `Q` answered. */
  readonly majority: boolean;
  /** Replicas `ready` (synced in a quorate component). */
  readonly ready: number;
  /**
   * Every two replicas at the same epoch and index have the same digest (replicas at
   * different indexes are not compared: commands in flight).
   */
  readonly digestsAgree: boolean;
}

/** What `cpgkit status --json` prints (format version `v`). */
export interface StatusSummary {
  readonly v: 1;
  readonly group: string;
  readonly groups: { readonly store: string; readonly locks: string; readonly agents: string };
  readonly time: string;
  /** This node's view of the cluster. */
  readonly cluster: {
    readonly nodeid: number;
    /** libquorum: this node is in a quorate partition. */
    readonly quorate: boolean;
    /** Nodes in this node's totem ring. */
    readonly nodes: readonly number[];
    /** votequorum's figures and node names (corosync-quorumtool), or `null` when unavailable. */
    readonly votequorum: VoteQuorum | null;
  };
  /** Every agent that answered, by node. */
  readonly agents: readonly AgentReport[];
  /** Members of the agents' group that did not answer in time. */
  readonly silent: readonly { readonly nodeid: number; readonly pid: number }[];
  readonly store: MachineSummary & {
    readonly revision: number | null;
    readonly keys: number | null;
  };
  readonly locks: MachineSummary & {
    readonly locks: readonly LockReport[];
    readonly elections: readonly ElectionReport[];
  };
  /** Empty when healthy; else one line per problem (the command then exits 1). */
  readonly problems: readonly string[];
}

type Machine = 'store' | 'locks';

/** The verdict over `reports`. */
export function summarize(input: {
  readonly group: string;
  readonly groups: StatusSummary['groups'];
  readonly cluster: StatusSummary['cluster'];
  readonly reports: readonly AgentReport[];
  readonly silent: StatusSummary['silent'];
  readonly now: Date;
}): StatusSummary {
  const reports = [...input.reports].sort((a, b) => a.nodeid - b.nodeid || a.pid - b.pid);
  const problems: string[] = [];
  if (!input.cluster.quorate) problems.push(`node ${input.cluster.nodeid} is not quorate`);
  if (reports.length === 0)
    problems.push(
      `no agent of group ${input.group} answered: run \`cpgkit serve --group ${input.group} --data DIR\` on the nodes`,
    );
  for (const s of input.silent)
    problems.push(`agent ${s.nodeid}:${s.pid} is in the agents' group but did not answer`);
  for (const r of reports)
    if (r.state !== 'running')
      problems.push(`agent on node ${r.nodeid} is ${r.state}${r.reason ? `: ${r.reason}` : ''}`);
  const store = machineSummary(reports, 'store', problems);
  const locks = machineSummary(reports, 'locks', problems);
  const bestStore = best(reports.map((r) => r.store));
  const bestLocks = best(reports.map((r) => r.locks));
  return {
    v: 1,
    group: input.group,
    groups: input.groups,
    time: input.now.toISOString(),
    cluster: input.cluster,
    agents: reports,
    silent: input.silent,
    store: { ...store, revision: bestStore?.revision ?? null, keys: bestStore?.keys ?? null },
    locks: { ...locks, locks: bestLocks?.locks ?? [], elections: bestLocks?.elections ?? [] },
    problems,
  };
}

function machineSummary(
  reports: readonly AgentReport[],
  machine: Machine,
  problems: string[],
): MachineSummary {
  const replicas = reports.flatMap((r) => (r[machine] === null ? [] : [r[machine]]));
  const top = best(replicas);
  const q = top?.replicaSet ?? [];
  const ids = new Set(replicas.map((m) => m.replicaId));
  const present = q.filter((id) => ids.has(id)).length;
  const majority = q.length > 0 && present * 2 > q.length;
  const ready = replicas.filter((m) => m.status === 'ready').length;
  const byPosition = new Map<string, Set<string>>();
  const stuck: string[] = [];
  for (const r of reports) {
    const m = r[machine];
    // an agent that answers in the agents' group is in our partition: its replica should be
    // in our quorum too (a replica that is merely syncing is not counted: a round is short)
    if (m !== null && (m.status === 'minority' || m.status === 'closed'))
      stuck.push(`node ${r.nodeid} (${m.replicaId.slice(-8)}) is ${m.status}`);
  }
  for (const m of replicas) {
    const key = `${m.epoch}/${m.index}`;
    const set = byPosition.get(key) ?? new Set<string>();
    set.add(m.digest);
    byPosition.set(key, set);
  }
  const digestsAgree = [...byPosition.values()].every((s) => s.size === 1);
  if (replicas.length > 0) {
    if (!majority)
      problems.push(
        `${machine}: ${present} of the ${q.length} replicas of Q answered: no majority (writes stop)`,
      );
    if (ready === 0) problems.push(`${machine}: no replica is ready`);
    else for (const line of stuck) problems.push(`${machine}: the replica on ${line}`);
    if (!digestsAgree)
      problems.push(`${machine}: replicas at the same index disagree on the digest`);
  }
  return { replicaSet: q, present, majority, ready, digestsAgree };
}

/** The most advanced replica (ready first, then the highest epoch and index). */
function best<M extends MachineReport>(ms: readonly (M | null)[]): M | undefined {
  let out: M | undefined;
  for (const m of ms) {
    if (m === null) continue;
    if (out === undefined || rank(m) > rank(out)) out = m;
  }
  return out;
}

function rank(m: MachineReport): bigint {
  return (
    (BigInt(m.status === 'ready' ? 1 : 0) << 120n) + (BigInt(m.epoch) << 64n) + BigInt(m.index)
  );
}
