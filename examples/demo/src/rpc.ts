/**
 * The line protocol between the demo and a node process (real corosync: one process per
 * node, in the node's network namespace). One JSON object per line, both ways:
 * - demo → node: `{ id, op, args }`
 * - node → demo: `{ id, result }` or `{ id, error: { name, message } }`, or `{ event }`.
 * @module
 */
import type { NodeEvent } from './node.js';

/** The operations a node process serves (the `DemoNode` methods). */
export type Op = 'ready' | 'set' | 'lockTurn' | 'row' | 'digests' | 'close';

/** A request to a node process. */
export interface Request {
  readonly id: number;
  readonly op: Op;
  readonly args: readonly unknown[];
}

/** A node process's answer, or an event it reports. */
export type Reply =
  | { readonly id: number; readonly result: unknown }
  | { readonly id: number; readonly error: { readonly name: string; readonly message: string } }
  | { readonly event: NodeEvent };

/** An error re-thrown on the demo's side with the node's error name and message. */
export class RemoteError extends Error {
  constructor(
    /** The `name` of the error in the node process (e.g. `NoQuorumError`). */
    readonly remoteName: string,
    message: string,
  ) {
    super(message);
    this.name = remoteName;
  }
}
