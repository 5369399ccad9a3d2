/**
 * `StatusResponder`: an agent's member of its status channel (`G.agents`), answering every
 * status query with the agent's report, and asking the other agents for theirs (the live view).
 * @module
 */
import { randomUUID } from 'node:crypto';
import type { GroupTransport } from '@cpgkit/core';
import type { AgentReport } from './report.js';
import { decodeStatusMessage, encodeStatusMessage } from './status-protocol.js';

/** Answers `cpgkit status` queries until closed. */
export class StatusResponder {
  readonly #group: GroupTransport;
  readonly #off: () => void;

  private constructor(group: GroupTransport, report: () => AgentReport) {
    this.#group = group;
    this.#off = group.on('message', (e) => {
      const m = decodeStatusMessage(e.data);
      if (m?.cpgkit !== 'status-query') return;
      const reply = encodeStatusMessage({ cpgkit: 'status-report', id: m.id, report: report() });
      group.send(reply).catch(() => undefined); // the asker times out and says who did not answer
    });
  }

  /** Join `groupName` on `group` (unjoined) and answer queries with `report()`. */
  static async open(
    group: GroupTransport,
    groupName: string,
    report: () => AgentReport,
  ): Promise<StatusResponder> {
    try {
      await group.join(groupName);
    } catch (e) {
      await group.close().catch(() => undefined);
      throw e;
    }
    return new StatusResponder(group, report);
  }

  /**
   * Ask every agent of the channel (this one included) for its report, as `cpgkit status`
   * does; resolves with the answers once all members answered or after `timeoutMs`.
   */
  async ask(timeoutMs: number): Promise<AgentReport[]> {
    const id = randomUUID();
    const reports = new Map<string, AgentReport>();
    const key = (m: { nodeid: number; pid: number }): string => `${m.nodeid}:${m.pid}`;
    let done: () => void = () => undefined;
    const finished = new Promise<void>((resolve) => (done = resolve));
    const off = this.#group.on('message', (e) => {
      const m = decodeStatusMessage(e.data);
      if (m?.cpgkit !== 'status-report' || m.id !== id) return;
      reports.set(key(e.sender), m.report);
      if (this.#group.members().every((x) => reports.has(key(x)))) done();
    });
    const timer = setTimeout(done, timeoutMs);
    try {
      await this.#group.send(encodeStatusMessage({ cpgkit: 'status-query', id }));
      await finished;
    } finally {
      clearTimeout(timer);
      off();
    }
    return [...reports.values()];
  }

  /** Leave the channel. */
  async close(): Promise<void> {
    this.#off();
    await this.#group.close().catch(() => undefined);
  }
}
