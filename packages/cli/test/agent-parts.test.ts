/**
 * The agent's pure pieces: group names, `--http` parsing, `corosync-quorumtool` parsing, lock
 * events, what a write error means for its outcome, the status verdict.
 */
import { describe, expect, it } from 'vitest';
import { ConnectionLostError, InterruptedError, TimeoutError } from '@cpgkit/core';
import { initialLocksState, type LocksState } from '@cpgkit/locks';
import {
  MachineClosedError,
  NoQuorumError,
  OutcomeUnknownError,
  ValueTooLargeError,
} from '@cpgkit/statemachine';
import { groupNames, MAX_BASE_GROUP_BYTES } from '../src/agent/group-names.js';
import { parseHttpAddress } from '../src/agent/http.js';
import { lockEvents } from '../src/agent/lock-events.js';
import { parseQuorumTool } from '../src/agent/quorum-tool.js';
import type { AgentReport, MachineReport } from '../src/agent/report.js';
import { summarize } from '../src/agent/status-summary.js';
import { NoAgentError, writeOutcome } from '../src/errors.js';
import { UsageError } from '../src/util.js';
import { lockOf } from '@cpgkit/locks';

describe('group names', () => {
  it('G for the store, G.locks for the lock machine, G.agents for status', () => {
    expect(groupNames('ops')).toEqual({
      base: 'ops',
      store: 'ops',
      locks: 'ops.locks',
      agents: 'ops.agents',
    });
  });
  it('refuses an empty G and one too long for the derived names', () => {
    expect(() => groupNames('')).toThrow(UsageError);
    expect(() => groupNames('x'.repeat(MAX_BASE_GROUP_BYTES))).not.toThrow();
    expect(() => groupNames('x'.repeat(MAX_BASE_GROUP_BYTES + 1))).toThrow(UsageError);
  });
});

describe('--http', () => {
  it('PORT, HOST:PORT, [V6]:PORT', () => {
    expect(parseHttpAddress('9464')).toEqual({ host: '127.0.0.1', port: 9464 });
    expect(parseHttpAddress('0.0.0.0:80')).toEqual({ host: '0.0.0.0', port: 80 });
    expect(parseHttpAddress('[::1]:9464')).toEqual({ host: '::1', port: 9464 });
    expect(parseHttpAddress('localhost:x')).toBeUndefined();
    expect(parseHttpAddress('70000')).toBeUndefined();
  });
});

describe('corosync-quorumtool -s', () => {
  const text = `Quorum information
------------------
Date:             Fri Dec  4 14:24:16 2026
Quorum provider:  corosync_votequorum
Nodes:            3
Node ID:          1
Ring ID:          1.d
Quorate:          Yes

Votequorum information
----------------------
Expected votes:   3
Highest expected: 3
Total votes:      2
Quorum:           2  
Flags:            Quorate 

Membership information
----------------------
    Nodeid      Votes Name
         1          1 node1 (local)
         2          1 node2
`;
  it('votes and node names', () => {
    expect(parseQuorumTool(text)).toEqual({
      quorate: true,
      expectedVotes: 3,
      totalVotes: 2,
      quorum: 2,
      nodes: [
        { nodeid: 1, votes: 1, name: 'node1' },
        { nodeid: 2, votes: 1, name: 'node2' },
      ],
    });
  });
  it('with a Qdevice column; garbage is undefined', () => {
    const p = text
      .replace('Nodeid      Votes Name', 'Nodeid      Votes    Qdevice Name')
      .replace('1          1 node1', '1          1         NR node1');
    expect(parseQuorumTool(p)?.nodes[0]).toEqual({ nodeid: 1, votes: 1, name: 'node1' });
    expect(parseQuorumTool('Cannot initialize QUORUM service')).toBeUndefined();
  });
});

describe('lock events', () => {
  const owner = { incarnation: 'a', nodeid: 1, pid: 10 };
  const held: LocksState = {
    ...initialLocksState(),
    locks: {
      job: {
        kind: 'mutex',
        limit: 1,
        token: '5',
        holders: [
          { id: 'r1', owner, mode: 'exclusive', token: '5', since: 0, ttl: null, expires: null },
        ],
        waiters: [],
        blockedUntil: null,
      },
    },
    elections: {
      chief: {
        term: '2',
        leader: { id: 'c1', owner, value: null, since: 0 },
        candidates: [],
        blockedUntil: null,
      },
    },
  };
  it('granted and elected, then released (a command) or lost (a membership change)', () => {
    expect(lockEvents(initialLocksState(), held, false).map((e) => e.event)).toEqual([
      'lock-granted',
      'leader-elected',
    ]);
    const free: LocksState = {
      ...held,
      locks: { job: { ...lockOf(held.locks, 'job')!, holders: [] } },
    };
    expect(lockEvents(held, free, false)).toEqual([
      { event: 'lock-released', name: 'job', token: '5', owner },
    ]);
    expect(lockEvents(held, free, true)[0]!.event).toBe('lock-lost');
  });

  it('a lock or election whose entry went (free names are deleted) is released or ended', () => {
    const gone: LocksState = { ...held, locks: {}, elections: {} };
    expect(lockEvents(held, gone, false).map((e) => e.event)).toEqual([
      'lock-released',
      'leader-ended',
    ]);
    expect(lockEvents(held, gone, true)[0]!.event).toBe('lock-lost');
  });
});

describe('what a failed write means', () => {
  it('not applied: refused or dropped before anyone applied it', () => {
    for (const e of [
      new NoQuorumError(),
      new InterruptedError('dropped'),
      new ValueTooLargeError('big'),
      new NoAgentError('none'),
    ])
      expect(writeOutcome(e), e.name).toBe('not-applied');
  });
  it('unknown: it may have been applied', () => {
    for (const e of [
      new TimeoutError('slow'),
      new OutcomeUnknownError('?'),
      new MachineClosedError('closed'),
      new ConnectionLostError(),
      new Error('anything else'),
    ])
      expect(writeOutcome(e), e.name).toBe('unknown');
  });
});

describe('status verdict', () => {
  const machine = (id: string, over: Partial<MachineReport> = {}): MachineReport => ({
    group: 'g',
    status: 'ready',
    replicaId: id,
    epoch: 3,
    index: '10',
    digest: 'd1',
    replicaSet: ['a', 'b', 'c'],
    members: [],
    lastSync: null,
    syncRounds: 1,
    mismatches: 0,
    foreign: 0,
    ...over,
  });
  const agent = (nodeid: number, id: string, over: Partial<MachineReport> = {}): AgentReport => ({
    v: 1,
    nodeid,
    pid: 100 + nodeid,
    hostname: 'h',
    state: 'running',
    reconnects: 0,
    store: { ...machine(id, over), revision: 4, keys: 2 },
    locks: { ...machine(id, over), locks: [], elections: [], truncated: false },
  });
  const base = {
    group: 'g',
    groups: { store: 'g', locks: 'g.locks', agents: 'g.agents' },
    cluster: { nodeid: 1, quorate: true, nodes: [1, 2, 3], votequorum: null },
    silent: [],
    now: new Date(0),
  };
  it('healthy with a majority of Q and equal digests', () => {
    const s = summarize({ ...base, reports: [agent(2, 'b'), agent(1, 'a')] });
    expect(s.problems).toEqual([]);
    expect(s.agents.map((a) => a.nodeid)).toEqual([1, 2]);
    expect(s.store).toMatchObject({ present: 2, majority: true, digestsAgree: true, revision: 4 });
  });
  it('digests that differ at the same index, and no majority, are problems', () => {
    const s = summarize({ ...base, reports: [agent(1, 'a'), agent(2, 'b', { digest: 'd2' })] });
    expect(s.problems.join('\n')).toMatch(/disagree/);
    const alone = summarize({ ...base, reports: [agent(1, 'a', { status: 'minority' })] });
    expect(alone.problems.join('\n')).toMatch(/1 of the 3 replicas of Q answered: no majority/);
    const none = summarize({ ...base, reports: [] });
    expect(none.problems.join('\n')).toMatch(/cpgkit serve --group g/);
  });
  it('a replica in minority beside ready ones is a problem; a syncing one is not', () => {
    const minority = summarize({
      ...base,
      reports: [agent(1, 'a'), agent(2, 'b'), agent(3, 'replica-c', { status: 'minority' })],
    });
    expect(minority.store.majority).toBe(true);
    expect(minority.problems).toContain('store: the replica on node 3 (eplica-c) is minority');
    expect(minority.problems).toContain('locks: the replica on node 3 (eplica-c) is minority');
    const syncing = summarize({
      ...base,
      reports: [agent(1, 'a'), agent(2, 'b'), agent(3, 'c', { status: 'syncing' })],
    });
    expect(syncing.problems).toEqual([]);
  });
  it('replicas at different indexes are not compared', () => {
    const s = summarize({
      ...base,
      reports: [agent(1, 'a'), agent(2, 'b', { index: '11', digest: 'd2' })],
    });
    expect(s.store.digestsAgree).toBe(true);
  });
});
