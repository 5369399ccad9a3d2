/**
 * The real-cluster test harness: the fixture, remote members, agents and the cluster script.
 * @module
 */
export type { ClusterFixture } from './fixture.js';
export { RealCluster, UnsupportedPartitionError } from './real-cluster.js';
export { RemoteGroup, type RemoteGroupOptions } from './remote-group.js';
export { spawnRemoteGroup, type SpawnRemoteGroupOptions } from './remote-member.js';
export { AgentConnection, AgentGoneError, spawnAgent, type AgentProcess } from './agent-client.js';
export type { AgentRunContext, AgentScenario } from './agent-server.js';
export { requireCluster, clusterAvailability, type ClusterAvailability } from './availability.js';
export * from './cluster.js';
