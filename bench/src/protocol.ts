/**
 * The line protocol between the orchestrator (`main.ts`) and a worker process (`worker.ts`):
 * requests are JSON lines on the worker's stdin, replies are JSON lines on its stdout
 * prefixed with {@link REPLY_PREFIX} (anything else a library prints is passed through).
 * @module
 */

/** Prefix of every reply line on a worker's stdout. */
export const REPLY_PREFIX = '@@bench ';

/** How a worker reaches its system. */
export type AdapterConfig =
  | {
      readonly system: 'etcd';
      /** The one member this worker talks to. */
      readonly endpoint: string;
      readonly electionTtl: number;
    }
  | {
      readonly system: 'cpgkit';
      /** Group name (one per scenario, so state starts empty). */
      readonly group: string;
      /** Persist to this directory; omit for an in-memory replica. */
      readonly dataDir?: string;
      /** With `dataDir`: when a write is acknowledged. @defaultValue 'memory' */
      readonly durability?: 'memory' | 'fsync';
    };

/** A request to a worker. */
export interface Request {
  readonly id: number;
  readonly op: string;
  readonly args?: unknown;
}

/** A worker's reply. */
export type Reply =
  | { readonly id: number; readonly ok: true; readonly result: unknown }
  | { readonly id: number; readonly ok: false; readonly error: string };
