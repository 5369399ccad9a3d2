/**
 * How the agent makes its member: a corosync member from `@cpgkit/core` (the default), or the
 * engine-free loopback stand-in (`CPGKIT_AGENT_TRANSPORT=loopback`, protocol tests only).
 * @module
 */
import { corosync, Group, type GroupTransport } from '@cpgkit/core';
import { LoopbackMember } from './loopback-member.js';

/** The transports an agent can use. */
export type AgentTransportName = 'corosync' | 'loopback';

/** Make a new, not yet joined member on the given transport. */
export function makeMember(transport: AgentTransportName): Promise<GroupTransport> {
  return Promise.resolve(transport === 'loopback' ? new LoopbackMember() : new Group(corosync()));
}
