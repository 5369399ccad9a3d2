/**
 * `cpgkit status --group G [--json] [--timeout S]`: what an operator checks first. Asks every
 * `cpgkit serve` of G (on the agents' group `G.agents`) for its report, adds this node's
 * quorum (libquorum, and votequorum's votes and node names from `corosync-quorumtool` when it
 * is installed), and prints the verdict: exit 0 when healthy, 1 when the group is not quorate,
 * has no majority of its replica set, or its digests disagree, 4 when no agent answers.
 * It joins no state machine (it does not disturb the group with a sync round).
 * @module
 */
import { randomUUID } from 'node:crypto';
import type { GroupTransport, MemberId } from '@cpgkit/core';
import { groupNames } from '../agent/group-names.js';
import { readVoteQuorum } from '../agent/quorum-tool.js';
import type { AgentReport, MachineReport } from '../agent/report.js';
import { decodeStatusMessage, encodeStatusMessage } from '../agent/status-protocol.js';
import { summarize, type MachineSummary, type StatusSummary } from '../agent/status-summary.js';
import { cliTransport } from '../clients.js';
import { EXIT_CONDITION, EXIT_NO_REPLICA } from '../exit-codes.js';
import { groupOption, timeoutOption, type RegisterCommand } from '../util.js';

/** How long `status` waits for the agents' answers by default, in seconds. */
export const DEFAULT_STATUS_TIMEOUT_S = 3;

interface StatusOptions {
  group: string;
  json?: boolean;
  /** ms */
  timeout: number;
}

/** Ask the agents of `group` and gather the summary. */
export async function gatherStatus(group: string, timeoutS: number): Promise<StatusSummary> {
  const names = groupNames(group);
  const t: GroupTransport = cliTransport.open();
  let nodes: readonly number[] = [];
  const offTotem = t.on('totem', (e) => (nodes = e.nodes));
  const reports = new Map<string, AgentReport>();
  const id = randomUUID();
  const key = (m: MemberId): string => `${m.nodeid}:${m.pid}`;
  let done: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => (done = resolve));
  const others = (): MemberId[] =>
    t.members().filter((m) => m.nodeid !== t.self.nodeid || m.pid !== t.self.pid);
  const complete = (): void => {
    if (others().every((m) => reports.has(key(m)))) done();
  };
  const offMsg = t.on('message', (e) => {
    const m = decodeStatusMessage(e.data);
    if (m?.cpgkit !== 'status-report' || m.id !== id) return;
    reports.set(key(e.sender), m.report);
    complete();
  });
  const offMembers = t.on('membership', () => complete());
  const votequorum = readVoteQuorum();
  try {
    await t.join(names.agents, { timeout: timeoutS * 1000 });
    await t.send(encodeStatusMessage({ cpgkit: 'status-query', id }));
    const timer = setTimeout(done, timeoutS * 1000);
    await finished;
    clearTimeout(timer);
    const silent = others()
      .filter((m) => !reports.has(key(m)))
      .map(({ nodeid, pid }) => ({ nodeid, pid }));
    return summarize({
      group,
      groups: { store: names.store, locks: names.locks, agents: names.agents },
      cluster: {
        nodeid: t.self.nodeid,
        quorate: t.quorate,
        nodes,
        votequorum: (await votequorum) ?? null,
      },
      reports: [...reports.values()],
      silent,
      now: new Date(),
    });
  } finally {
    offTotem();
    offMsg();
    offMembers();
    await t.close();
  }
}

/** The summary for people. */
export function statusText(s: StatusSummary): string {
  const out: string[] = [];
  const vq = s.cluster.votequorum;
  out.push(
    `cluster: node ${s.cluster.nodeid} ${s.cluster.quorate ? 'quorate' : 'NOT quorate'}, ring ${s.cluster.nodes.join(' ') || '-'}` +
      (vq === null
        ? ' (votes: corosync-quorumtool not available)'
        : `, votes ${vq.totalVotes}/${vq.expectedVotes} expected (quorum ${vq.quorum}); nodes ${vq.nodes.map((n) => `${n.nodeid}=${n.name}`).join(' ')}`),
  );
  out.push(`group ${s.group}: store in ${s.groups.store}, locks in ${s.groups.locks}`);
  for (const a of s.agents) {
    const m = (x: MachineReport | null): string =>
      x === null
        ? '-'
        : `${x.status} epoch ${x.epoch} index ${x.index} digest ${x.digest.slice(0, 12)} replica ${x.replicaId.slice(0, 8)} last sync ${x.lastSync ?? '-'}`;
    out.push(
      `  agent node ${a.nodeid} pid ${a.pid} (${a.hostname}) ${a.state}${a.reason ? `: ${a.reason}` : ''}`,
    );
    out.push(`    store: ${m(a.store)}`);
    out.push(`    locks: ${m(a.locks)}`);
  }
  for (const x of s.silent) out.push(`  agent ${x.nodeid}:${x.pid}: no answer`);
  const q = (name: string, m: MachineSummary): string =>
    `${name}: Q has ${m.replicaSet.length} replicas, ${m.present} present (${m.majority ? 'majority' : 'NO majority'}), ${m.ready} ready, digests ${m.digestsAgree ? 'agree' : 'DISAGREE'}`;
  out.push(
    q('store', s.store) + `; revision ${s.store.revision ?? '-'}, ${s.store.keys ?? '-'} keys`,
  );
  out.push(q('locks', s.locks));
  for (const e of s.locks.elections)
    out.push(
      `  election '${e.name}': term ${e.term}, leader ${e.leader === null ? '-' : `${e.leader.nodeid}:${e.leader.pid}`}, ${e.candidates} waiting`,
    );
  for (const l of s.locks.locks)
    out.push(
      `  lock '${l.name}': token ${l.token}; held by ${l.holders.map((h) => `${h.nodeid}:${h.pid} (token ${h.token})`).join(', ') || '-'}; waiting ${l.waiters.map((w) => `${w.nodeid}:${w.pid}`).join(', ') || '-'}`,
    );
  out.push(
    s.problems.length === 0
      ? 'healthy'
      : `problems:\n${s.problems.map((p) => `  - ${p}`).join('\n')}`,
  );
  return `${out.join('\n')}\n`;
}

/** Registers `cpgkit status`. */
export const registerStatus: RegisterCommand = (program, setExit) => {
  program
    .command('status')
    .description(
      "group G at a glance: nodes and quorum, the agents' replicas, Q, leaders, locks, the store (exit 1 when unhealthy)",
    )
    .addOption(groupOption('the cpgkit group'))
    .option('--json', 'one JSON object (see the README for its fields)')
    .addOption(
      timeoutOption(
        'how long to wait for the agents to answer (bare: seconds)',
        's',
        DEFAULT_STATUS_TIMEOUT_S * 1000,
      ),
    )
    .action(async (opts: StatusOptions) => {
      const s = await gatherStatus(opts.group, opts.timeout / 1000);
      process.stdout.write(opts.json ? `${JSON.stringify(s)}\n` : statusText(s));
      if (s.agents.length === 0) setExit(EXIT_NO_REPLICA);
      else if (s.problems.length > 0) setExit(EXIT_CONDITION);
    });
};
