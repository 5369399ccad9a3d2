/**
 * How the agent makes its member: a corosync member from `@cpgkit/core` (the default), or the
 * engine-free loopback stand-in (`CPGKIT_AGENT_TRANSPORT=loopback`, protocol tests only).
 * @module
 */
import type { GroupTransport } from '@cpgkit/core';
import { LoopbackMember } from './loopback-member.js';

/** The transports an agent can use. */
export type AgentTransportName = 'corosync' | 'loopback';

/** Make a new, not yet joined member on the given transport. */
export async function makeMember(transport: AgentTransportName): Promise<GroupTransport> {
  if (transport === 'loopback') return new LoopbackMember();
  // Loaded loosely until `Group` and `corosync()` are exported by @cpgkit/core.
  const core = (await import('@cpgkit/core')) as Record<string, unknown>;
  const corosync = core.corosync as (() => unknown) | undefined;
  const Group = core.Group as (new (options: { transport: unknown }) => GroupTransport) | undefined;
  if (corosync === undefined || Group === undefined) {
    throw new Error('@cpgkit/core does not export `corosync` and `Group` yet');
  }
  return new Group({ transport: corosync() });
}
