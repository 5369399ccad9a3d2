/**
 * `StatusResponder`: an agent's member of its status channel (`G.agents`), answering every
 * status query with the agent's report.
 * @module
 */
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

  /** Leave the channel. */
  async close(): Promise<void> {
    this.#off();
    await this.#group.close().catch(() => undefined);
  }
}
