/**
 * `LiveState`: what the live view (the web page of `cpgkit serve --http` and of
 * `npm run demo -- --web`) shows, kept up to date and pushed to its viewers: the status summary
 * (exactly what `cpgkit status --json` prints), the store's recent changes, and a stream of
 * events (membership, sync, quorum, grants, losses, leaders). Sources (`observe-node.ts`,
 * `agent-source.ts`) feed it; `web.ts` serves it.
 * @module
 */
import { callHandlers } from '@cpgkit/core';
import type { Json } from '@cpgkit/statemachine';
import type { StatusSummary } from '../agent/status-summary.js';

/** The format version of the snapshot (`/api/state`). */
export const LIVE_VERSION = 1;

/** What kind of thing an event is. */
export type LiveEventKind =
  /** A node's replica saw the members change. */
  | 'membership'
  /** A sync round ended. */
  | 'sync'
  /** A replica's status changed (`syncing`, `ready`, `minority`, `closed`). */
  | 'status'
  | 'quorum'
  /** Two replicas disagree on the state digest (they resync). */
  | 'mismatch'
  | 'lock-granted'
  | 'lock-released'
  /** A holder was removed against its will: it left, was cut off, or its lease ran out. */
  | 'lock-lost'
  | 'leader-elected'
  | 'leader-ended'
  /** The agent connected to corosync, or lost it. */
  | 'agent';

/** One line of the event stream. */
export interface LiveEvent {
  /** Increases by one per event or change, across both. */
  readonly seq: number;
  /** ISO time the view learnt of it. */
  readonly time: string;
  readonly kind: LiveEventKind;
  /** The node that saw it, or `null` for a change of the replicated state (every node sees it). */
  readonly node: number | null;
  /** In words. */
  readonly text: string;
  /** The lock or election name (lock and leader events). */
  readonly name?: string;
  /** The fencing token (lock events) or the term (leader events), a decimal string. */
  readonly token?: string;
  /** The holder or leader (lock and leader events). */
  readonly owner?: { readonly nodeid: number; readonly pid: number };
}

/** One change of the store. */
export interface StoreChange {
  readonly seq: number;
  readonly time: string;
  readonly type: 'set' | 'delete';
  readonly key: string;
  /** The new value (`set`). */
  readonly value?: Json;
  readonly revision: number;
}

/** Everything the page shows (`GET /api/state`; the first message of `/events`). */
export interface LiveSnapshot {
  readonly v: typeof LIVE_VERSION;
  /** What is watched, in words (the page's title). */
  readonly title: string;
  readonly status: StatusSummary;
  /** The store's recent changes, oldest first. */
  readonly changes: readonly StoreChange[];
  /** Recent events, oldest first. */
  readonly events: readonly LiveEvent[];
}

/** What viewers receive after the snapshot. */
export type LiveMessage =
  | { readonly type: 'status'; readonly status: StatusSummary }
  | { readonly type: 'event'; readonly event: LiveEvent }
  | { readonly type: 'change'; readonly change: StoreChange };

/** Options of `new LiveState`. */
export interface LiveStateOptions {
  readonly title: string;
  /** The status summary now (called at most every `throttleMs`, and on demand). */
  readonly summarize: () => StatusSummary;
  /** @defaultValue 200 */
  readonly maxEvents?: number;
  /** @defaultValue 50 */
  readonly maxChanges?: number;
  /** Least time between two status pushes (ms). @defaultValue 200 */
  readonly throttleMs?: number;
  /**
   * While anyone watches, recompute the summary this often even when no source said anything
   * changed (ms). @defaultValue 1000
   */
  readonly refreshMs?: number;
}

/**
 * The live view's model. Sources call `event`, `change` and `invalidate` (something changed:
 * recompute the summary soon); viewers `subscribe`.
 */
export class LiveState {
  readonly title: string;
  readonly #summarize: () => StatusSummary;
  readonly #maxEvents: number;
  readonly #maxChanges: number;
  readonly #throttleMs: number;
  readonly #refreshMs: number;
  #refresh: NodeJS.Timeout | undefined;
  readonly #events: LiveEvent[] = [];
  readonly #changes: StoreChange[] = [];
  readonly #listeners = new Set<(m: LiveMessage) => void>();
  #seq = 0;
  #status: StatusSummary | undefined;
  /** The last status pushed, as JSON without its time (to push changes only). */
  #pushed = '';
  #timer: NodeJS.Timeout | undefined;
  #lastPush = 0;
  #closed = false;

  constructor(options: LiveStateOptions) {
    this.title = options.title;
    this.#summarize = options.summarize;
    this.#maxEvents = options.maxEvents ?? 200;
    this.#maxChanges = options.maxChanges ?? 50;
    this.#throttleMs = options.throttleMs ?? 200;
    this.#refreshMs = options.refreshMs ?? 1000;
  }

  /** How many viewers are subscribed. */
  get viewers(): number {
    return this.#listeners.size;
  }

  /** Everything, now. */
  snapshot(): LiveSnapshot {
    this.#status = this.#summarize();
    return {
      v: LIVE_VERSION,
      title: this.title,
      status: this.#status,
      changes: [...this.#changes],
      events: [...this.#events],
    };
  }

  /** Record an event and push it. */
  event(e: Omit<LiveEvent, 'seq' | 'time'>): void {
    if (this.#closed) return;
    const event: LiveEvent = { seq: ++this.#seq, time: new Date().toISOString(), ...e };
    push(this.#events, event, this.#maxEvents);
    this.#emit({ type: 'event', event });
    this.invalidate();
  }

  /** Record a store change and push it. */
  change(c: Omit<StoreChange, 'seq' | 'time'>): void {
    if (this.#closed) return;
    const change: StoreChange = { seq: ++this.#seq, time: new Date().toISOString(), ...c };
    push(this.#changes, change, this.#maxChanges);
    this.#emit({ type: 'change', change });
    this.invalidate();
  }

  /** Something changed: recompute the summary soon and push it if it differs. */
  invalidate(): void {
    if (this.#closed || this.#timer !== undefined || this.#listeners.size === 0) return;
    const wait = Math.max(0, this.#lastPush + this.#throttleMs - performance.now());
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#lastPush = performance.now();
      this.#pushStatus();
    }, wait);
    this.#timer.unref();
  }

  /** Call `listener` with every message from now on; returns the unsubscribe function. */
  subscribe(listener: (m: LiveMessage) => void): () => void {
    this.#listeners.add(listener);
    if (this.#refresh === undefined && !this.#closed) {
      this.#refresh = setInterval(() => this.invalidate(), this.#refreshMs);
      this.#refresh.unref();
    }
    return () => {
      this.#listeners.delete(listener);
      if (this.#listeners.size === 0) {
        clearInterval(this.#refresh);
        this.#refresh = undefined;
      }
    };
  }

  /** Stop pushing. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    clearInterval(this.#refresh);
    this.#timer = undefined;
    this.#refresh = undefined;
    this.#listeners.clear();
  }

  #pushStatus(): void {
    let status: StatusSummary;
    try {
      status = this.#summarize();
    } catch {
      return; // a replica closing under us: the next change or refresh tries again
    }
    this.#status = status;
    const key = JSON.stringify({ ...status, time: '' });
    if (key === this.#pushed) return;
    this.#pushed = key;
    this.#emit({ type: 'status', status });
  }

  #emit(m: LiveMessage): void {
    callHandlers([...this.#listeners], m); // a throw is rethrown later, uncaught
  }
}

function push<T>(list: T[], item: T, max: number): void {
  list.push(item);
  if (list.length > max) list.splice(0, list.length - max);
}
