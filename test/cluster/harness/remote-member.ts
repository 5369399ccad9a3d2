/**
 * Start a member in an agent process and wrap it as a `RemoteGroup`.
 * @module
 */
import { spawnAgent, type SpawnAgentOptions } from './agent-client.js';
import type { AgentTransportName } from './member-factory.js';
import type { WireState } from './protocol.js';
import { RemoteGroup } from './remote-group.js';

/** Options for `spawnRemoteGroup`. */
export interface SpawnRemoteGroupOptions extends SpawnAgentOptions {
  /** The agent's transport (default `corosync`). */
  readonly transport?: AgentTransportName;
}

/**
 * A new member process (an agent) on `node`, not yet joined, as a `RemoteGroup`.
 * @param node - the node number
 * @param options - the node's `namespace` (omit to run in this namespace), transport, timeouts
 */
export async function spawnRemoteGroup(
  node: number,
  options: SpawnRemoteGroupOptions = {},
): Promise<RemoteGroup> {
  const agent = await spawnAgent(node, {
    ...options,
    env: { ...options.env, CPGKIT_AGENT_TRANSPORT: options.transport ?? 'corosync' },
  });
  const state = await agent.connection.call<WireState>({ op: 'state' });
  const waitExit = async (ms: number): Promise<boolean> => {
    if (agent.child.exitCode !== null || agent.child.signalCode !== null) return true;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), ms);
    });
    const r = await Promise.race([agent.exited.then(() => true as const), timedOut]);
    clearTimeout(timer);
    return r;
  };
  const kill = async (): Promise<void> => {
    if (agent.child.exitCode === null && agent.child.signalCode === null)
      agent.child.kill('SIGKILL');
    await agent.exited;
  };
  return new RemoteGroup(agent.connection, state, {
    node,
    pid: agent.pid,
    kill,
    shutdown: async () => {
      await agent.connection.call({ op: 'exit' }).catch(() => undefined);
      if (!(await waitExit(5_000))) await kill();
    },
  });
}
