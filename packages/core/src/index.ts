/**
 * @cpgkit/core: Corosync CPG for Node.js, and the `GroupTransport` contract.
 * @module
 */
export * from './types.js';
export * from './errors.js';
export type * from './transport.js';
export type * from './driver.js';
export { realClock } from './clock.js';
export { corosync, type CorosyncOptions } from './corosync/transport.js';
