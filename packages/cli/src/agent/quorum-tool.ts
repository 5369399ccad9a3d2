/**
 * Votequorum's figures and the node names, read from `corosync-quorumtool -s` (cpgkit binds
 * libcpg and libquorum, which give neither; the tool reads them from votequorum and CMAP).
 * @module
 */
import { execFile } from 'node:child_process';

/** What `corosync-quorumtool -s` says. */
export interface VoteQuorum {
  readonly quorate: boolean;
  readonly expectedVotes: number;
  readonly totalVotes: number;
  /** Votes needed for quorum. */
  readonly quorum: number;
  /** The nodes in the membership, with their names from corosync.conf's nodelist (CMAP). */
  readonly nodes: readonly {
    readonly nodeid: number;
    readonly votes: number;
    readonly name: string;
  }[];
}

/** Parse the output of `corosync-quorumtool -s`; `undefined` when it does not look like it. */
export function parseQuorumTool(text: string): VoteQuorum | undefined {
  const field = (label: string): string | undefined =>
    new RegExp(`^${label}:\\s*(.+?)\\s*$`, 'm').exec(text)?.[1];
  const expected = Number(field('Expected votes'));
  const total = Number(field('Total votes'));
  const quorum = Number(field('Quorum'));
  const quorate = field('Quorate');
  if (!Number.isInteger(expected) || !Number.isInteger(total) || quorate === undefined)
    return undefined;
  const nodes: { nodeid: number; votes: number; name: string }[] = [];
  const members = text.split(/^Membership information\s*$/m)[1] ?? '';
  const lines = members.split('\n');
  // "    Nodeid      Votes Name", or with -p / a qdevice "Nodeid Votes Qdevice Name"
  const nameColumn = lines.some((l) => /\bQdevice\b/.test(l)) ? 3 : 2;
  for (const line of lines) {
    const t = line.trim().split(/\s+/);
    if (t.length > nameColumn && /^\d+$/.test(t[0]!) && /^\d+$/.test(t[1]!))
      nodes.push({ nodeid: Number(t[0]), votes: Number(t[1]), name: t[nameColumn]! });
  }
  return { quorate: quorate === 'Yes', expectedVotes: expected, totalVotes: total, quorum, nodes };
}

/** Run `corosync-quorumtool -s` (2 s at most); `undefined` when it is missing or fails. */
export function readVoteQuorum(): Promise<VoteQuorum | undefined> {
  return new Promise((resolve) => {
    execFile('corosync-quorumtool', ['-s'], { timeout: 2000 }, (_err, stdout) => {
      // it exits non-zero when not quorate, and still prints everything
      resolve(typeof stdout === 'string' ? parseQuorumTool(stdout) : undefined);
    });
  });
}
