/**
 * The messages of the agents' status channel (`G.agents`): `cpgkit status` multicasts a query,
 * every `cpgkit serve` of the group multicasts its report in reply. UTF-8 JSON, one message
 * each; anything else in the group is ignored.
 * @module
 */
import type { AgentReport } from './report.js';

/** A status query. */
export interface StatusQuery {
  readonly cpgkit: 'status-query';
  /** Chosen by the asker; replies carry it. */
  readonly id: string;
}

/** An agent's reply. */
export interface StatusReply {
  readonly cpgkit: 'status-report';
  readonly id: string;
  readonly report: AgentReport;
}

/** A message of the channel, decoded. */
export type StatusMessage = StatusQuery | StatusReply;

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** The bytes of `m`. */
export function encodeStatusMessage(m: StatusMessage): Uint8Array {
  return encoder.encode(JSON.stringify(m));
}

/** `data` as a status message, or `undefined` when it is not one. */
export function decodeStatusMessage(data: Uint8Array): StatusMessage | undefined {
  let v: unknown;
  try {
    v = JSON.parse(decoder.decode(data));
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  const o = v as Record<string, unknown>;
  if (typeof o.id !== 'string') return undefined;
  if (o.cpgkit === 'status-query') return { cpgkit: 'status-query', id: o.id };
  if (o.cpgkit === 'status-report' && typeof o.report === 'object' && o.report !== null)
    return { cpgkit: 'status-report', id: o.id, report: o.report as AgentReport };
  return undefined;
}
