/**
 * The in-memory cluster's trace: a running SHA-256 of every event delivered, so that two
 * runs can be compared by one string (`MemoryCluster.traceHash()`).
 * @module
 */
import { createHash, type Hash } from 'node:crypto';
import type { MemberChange, MemberId } from '../types.js';
import type { InboxItem, SimConnection } from './connection.js';

const ids = (l: readonly MemberId[]): string => l.map((m) => `${m.nodeid}:${m.pid}`).join(',');
const changes = (l: readonly MemberChange[]): string =>
  l.map((m) => `${m.nodeid}:${m.pid}/${m.reason}`).join(',');

/** A running hash of delivered events. */
export class Trace {
  readonly #hash: Hash = createHash('sha256');

  /** Add the delivery of `item` to `conn`. */
  record(conn: SimConnection, item: InboxItem): void {
    const hash = this.#hash;
    const who = `${conn.id}@${conn.local.nodeid}:${conn.local.pid}`;
    switch (item.kind) {
      case 'mcast':
        hash.update(
          `${who} m ${item.conn.local.nodeid}:${item.conn.local.pid} ${item.data.length}\n`,
        );
        hash.update(item.data);
        break;
      case 'confchg':
        hash.update(
          `${who} c [${ids(item.members)}] +[${changes(item.joined)}] -[${changes(item.left)}]\n`,
        );
        break;
      case 'totem':
        hash.update(`${who} t ${item.ring.nodeid}/${item.ring.seq} [${item.nodes.join(',')}]\n`);
        break;
      case 'quorum':
        hash.update(
          `${who} q ${item.quorate} ${item.view.ringSeq} [${item.view.nodes.join(',')}]\n`,
        );
        break;
    }
  }

  /** The hex digest of everything recorded so far (recording may go on). */
  digest(): string {
    return this.#hash.copy().digest('hex');
  }
}
