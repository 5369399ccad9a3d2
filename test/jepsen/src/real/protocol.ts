/**
 * What the harness and its client processes (one per node, inside the node's network namespace)
 * say to each other: JSON lines over the client's stdin (harness to client) and stdout (client
 * to harness). Nothing leaves the machine.
 *
 * **One clock.** A client stamps each record with `process.hrtime.bigint()` (CLOCK_MONOTONIC)
 * the instant it happens, and the harness stamps its own records (faults, the fenced resource's
 * decisions) from the same clock: a network namespace does not change the clock, so every
 * process of this machine reads the same one (the harness checks that at start: a client's
 * stamp must fall between the harness's ping and the answer). The harness merges the records
 * in that order. Stamps taken where things happen, not when their report arrives over the
 * pipe, keep every operation's interval inside its true one: a report's delay cannot make a
 * history look linearizable or unsafe when it is not.
 * @module
 */
import type { Outcome, Value } from '../history.js';

/** The workloads of a real run. */
export type WorkloadName = 'register' | 'set' | 'lock' | 'election';

/** Harness to client. */
export type ToClient =
  | { readonly type: 'ping'; readonly id: number }
  | {
      readonly type: 'start';
      readonly group: string;
      readonly node: number;
      readonly seed: number;
      readonly opTimeout: number;
      /** How register reads go (`'stale'`: local reads, which the checker must object to). */
      readonly readConsistency: 'linearizable' | 'stale';
    }
  /** Stop starting operations; answer `stopped` once none is in flight. */
  | { readonly type: 'stop'; readonly id: number }
  /** The final reads (register keys, the set, the lock holders); answer `final`. */
  | { readonly type: 'final'; readonly id: number }
  /** GET the local serve's `/healthz`; answer `health`. */
  | { readonly type: 'health'; readonly id: number; readonly port: number }
  /** The fenced resource's decision on a `fence` request. */
  | {
      readonly type: 'fenced';
      readonly req: number;
      readonly accepted: boolean;
      readonly highest: string;
    };

/** A history record as a client reports it (the harness numbers and orders them). */
export type ClientRecord =
  | {
      readonly kind: 'invoke';
      readonly id: number;
      readonly process: string;
      readonly op: string;
      readonly value: Value;
    }
  | {
      readonly kind: 'complete';
      readonly id: number;
      readonly process: string;
      readonly op: string;
      readonly value: Value;
      readonly outcome: Outcome;
      readonly error?: string;
    }
  | {
      readonly kind: 'event';
      readonly process: string;
      readonly event: string;
      readonly value: Value;
    };

/** Client to harness. */
export type FromClient =
  | { readonly type: 'pong'; readonly id: number; readonly ns: string }
  | {
      readonly type: 'record';
      readonly workload: WorkloadName;
      /** CLOCK_MONOTONIC in ns (decimal), when it happened. */
      readonly ns: string;
      readonly rec: ClientRecord;
    }
  /** A holder asks the fenced resource (it lives in the harness, like an external database). */
  | {
      readonly type: 'fence';
      readonly req: number;
      readonly process: string;
      readonly name: string;
      readonly grant: string;
      readonly token: string;
    }
  | { readonly type: 'stopped'; readonly id: number }
  | {
      readonly type: 'final';
      readonly id: number;
      /** What this node read: register values by key, the set's elements, or why it failed. */
      readonly registers: Readonly<Record<string, Value>> | { readonly error: string };
      readonly set: readonly number[] | { readonly error: string };
    }
  | { readonly type: 'health'; readonly id: number; readonly status: number; readonly body: string }
  | { readonly type: 'log'; readonly message: string };
