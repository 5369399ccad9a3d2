/**
 * The history format: what clients did and saw, on one clock. One record per line (JSON lines):
 * an `invoke` when a client starts an operation, a `complete` when it learns the outcome
 * (`ok`, `fail`: certainly not applied, `unknown`: may or may not take effect, at any time
 * after its invocation), and `event`s (a fault, a lock signal aborting, a fenced write) that
 * happen at one instant.
 * @module
 */

/** How an operation ended. */
export type Outcome = 'ok' | 'fail' | 'unknown';

/** JSON as the history stores it (bigints are written as decimal strings). */
export type Value = null | boolean | number | string | Value[] | { [key: string]: Value };

/** A client started an operation. */
export interface InvokeRecord {
  readonly kind: 'invoke';
  /** Position on the history's clock: strictly increasing over all records of one history. */
  readonly t: number;
  /** The run's own time (virtual ms on the in-memory cluster), for display. */
  readonly vt: number;
  /** The operation's id, shared by its invoke and complete records. */
  readonly id: number;
  /** The client process (one operation at a time). */
  readonly process: string;
  /** The operation (`read`, `write`, `cas`, `acquire`, ...). */
  readonly op: string;
  /** Its argument. */
  readonly value: Value;
}

/** A client learned an operation's outcome. */
export interface CompleteRecord {
  readonly kind: 'complete';
  readonly t: number;
  readonly vt: number;
  readonly id: number;
  readonly process: string;
  readonly op: string;
  /** What it returned (`ok`), or `null`. */
  readonly value: Value;
  readonly outcome: Outcome;
  /** The error's name, when it failed or its outcome is unknown. */
  readonly error?: string;
}

/** Something that happened at one instant (a fault, a signal, a fenced write, a final read). */
export interface EventRecord {
  readonly kind: 'event';
  readonly t: number;
  readonly vt: number;
  /** Who saw or did it (absent for the nemesis). */
  readonly process?: string;
  readonly event: string;
  readonly value: Value;
}

/** One line of a history. */
export type HistoryRecord = InvokeRecord | CompleteRecord | EventRecord;

/** An operation: its invoke and complete records joined. */
export interface Operation {
  readonly id: number;
  readonly process: string;
  readonly op: string;
  /** The argument. */
  readonly input: Value;
  /** The result (`null` unless `ok`). */
  readonly output: Value;
  readonly outcome: Outcome;
  readonly error?: string;
  /** Clock of the invoke record. */
  readonly invoke: number;
  /** Clock of the complete record; `Infinity` when the outcome is unknown or never came. */
  readonly complete: number;
  readonly vtInvoke: number;
  readonly vtComplete: number;
}

/**
 * Records one history. `now()` gives the run's own time for display; the order of records is
 * the order of the calls (one process, one event loop: that is real-time order).
 */
export class HistoryRecorder {
  readonly records: HistoryRecord[] = [];
  #t = 0;
  #id = 0;
  readonly #now: () => number;
  readonly #onRecord: ((r: HistoryRecord) => void) | undefined;

  /** `onRecord` sees every record as it is made (a replay's trace). */
  constructor(now: () => number, onRecord?: (r: HistoryRecord) => void) {
    this.#now = now;
    this.#onRecord = onRecord;
  }

  #push(r: HistoryRecord): void {
    this.records.push(r);
    this.#onRecord?.(r);
  }

  /** Record an invocation; returns the operation id for `complete`. */
  invoke(process: string, op: string, value: Value): number {
    const id = ++this.#id;
    this.#push({ kind: 'invoke', t: ++this.#t, vt: this.#now(), id, process, op, value });
    return id;
  }

  /** Record an operation's outcome. */
  complete(
    id: number,
    process: string,
    op: string,
    outcome: Outcome,
    value: Value = null,
    error?: string,
  ): void {
    this.#push({
      kind: 'complete',
      t: ++this.#t,
      vt: this.#now(),
      id,
      process,
      op,
      value,
      outcome,
      ...(error === undefined ? {} : { error }),
    });
  }

  /** Record an event. */
  event(event: string, value: Value, process?: string): void {
    this.#push({
      kind: 'event',
      t: ++this.#t,
      vt: this.#now(),
      event,
      value,
      ...(process === undefined ? {} : { process }),
    });
  }
}

/**
 * Join invoke and complete records into operations, in invocation order. An invocation
 * without a completion ends `unknown`.
 */
export function operations(records: readonly HistoryRecord[]): Operation[] {
  const open = new Map<number, InvokeRecord>();
  const done = new Map<number, CompleteRecord>();
  const order: number[] = [];
  for (const r of records) {
    if (r.kind === 'invoke') {
      open.set(r.id, r);
      order.push(r.id);
    } else if (r.kind === 'complete') {
      done.set(r.id, r);
    }
  }
  return order.map((id) => {
    const i = open.get(id)!;
    const c = done.get(id);
    const outcome = c?.outcome ?? 'unknown';
    return {
      id,
      process: i.process,
      op: i.op,
      input: i.value,
      output: c?.outcome === 'ok' ? c.value : null,
      outcome,
      ...(c?.error === undefined ? {} : { error: c.error }),
      invoke: i.t,
      complete: outcome === 'unknown' ? Infinity : c!.t,
      vtInvoke: i.vt,
      vtComplete: c?.vt ?? Infinity,
    };
  });
}

/** The records as JSON lines. */
export function toJsonLines(records: readonly HistoryRecord[]): string {
  return records.map((r) => JSON.stringify(r)).join('\n') + (records.length > 0 ? '\n' : '');
}

/** Parse JSON lines (blank lines are skipped). */
export function fromJsonLines(text: string): HistoryRecord[] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as HistoryRecord);
}
