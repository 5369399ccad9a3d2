/**
 * The replicas' disks in a seeded run, where a write's end can decide what happens next (an
 * ack waits for it in 'fsync', or when it holds a new epoch): to keep a seed's replay exact,
 * every write of a replica holds the simulation while it runs (`Clock.hold`): it takes no
 * virtual time, and no engine step or timer comes between its start and its end. The writes
 * of all replicas run one at a time, in the order they started: otherwise two replicas'
 * writes end in the order the machine's disk finishes them, and so do the acks each sends
 * after its write, which an in-flight trap catches the first of.
 *
 * With `lose` (`--lose-writes`), a kill -9 ends the process's journal write in flight before
 * it lands, and nothing the dead process would write afterwards (its close, in the
 * simulation) reaches its data directory. Its restart then reads what its writes that ended
 * before the kill left there, as on a real machine. A write waits for the ones before it,
 * then one turn of the event loop, before touching the files, so a kill in the turn that
 * started it (a trap on a frame sent at a round's end, say), or while it waited, always
 * catches it in flight, and a later kill never does.
 * @module
 */
import { SnapshotStore } from '@cpgkit/statemachine';
import type { Clock } from '@cpgkit/core';

type Method = (this: SnapshotStore, ...args: unknown[]) => Promise<unknown>;

/** What a write holds, for the trace: its record's (or image's) epoch, index and `Q`. */
function describeWrite(x: unknown): string {
  const r = x as
    | {
        epoch?: number;
        index?: bigint;
        replicas?: readonly string[];
        gone?: readonly string[];
        patches?: readonly unknown[];
      }
    | undefined;
  if (r === undefined) return '';
  return (
    `epoch ${r.epoch} index ${r.index} Q [${(r.replicas ?? []).join(' ')}]` +
    ` gone [${(r.gone ?? []).join(' ')}]` +
    (r.patches === undefined ? '' : ` patches ${r.patches.length}`)
  );
}

/** The data directories of one campaign's replicas: their writes in order, lost at a kill. */
export class SimDisks {
  /** The store of each data directory's running process (set when it opens). */
  readonly #live = new Map<string, SnapshotStore>();
  readonly #originals = new Map<string, Method>();
  /** The end of the last write started: the next one starts after it. */
  readonly #order: { tail: Promise<void> } = { tail: Promise.resolve() };
  /** Writes that never landed (their process was killed first). */
  readonly counts = { lost: 0 };
  /** Springs on the next write that `match` accepts, the instant it is in flight (`armWrite`). */
  readonly #trap: {
    armed?: { match: (dir: string) => boolean; action: (dir: string) => void };
  } = {};

  constructor(
    private readonly clock: Clock,
    private readonly dirs: (dir: string) => boolean,
    private readonly lose: boolean,
    /** A replay's trace: each write's start and end (`ScheduleOptions.trace`). */
    private readonly trace?: (dir: string, line: string) => void,
  ) {}

  /** Wrap `SnapshotStore`'s writes (until `uninstall`). */
  install(): void {
    const { clock, dirs, counts, lose, trace } = this;
    const live = this.#live;
    const order = this.#order;
    const trap = this.#trap;
    const proto = SnapshotStore.prototype as unknown as Record<string, Method>;
    const method = (name: string): Method => {
      const f = Object.getOwnPropertyDescriptor(proto, name)!.value as Method;
      this.#originals.set(name, f);
      return f;
    };
    const replicaId = method('replicaId');
    // the first call of a replica opening: its store is its directory's live one from now on
    proto.replicaId = function (this: SnapshotStore, ...args: unknown[]) {
      if (dirs(this.dir)) live.set(this.dir, this);
      return replicaId.apply(this, args);
    };
    for (const name of ['append', 'save']) {
      const original = method(name);
      proto[name] = async function (this: SnapshotStore, ...args: unknown[]) {
        if (!dirs(this.dir)) return original.apply(this, args);
        const release = clock.hold?.();
        const what = trace === undefined ? '' : `${name} ${describeWrite(args[0])}`;
        trace?.(this.dir, `disk: ${what} starts`);
        const before = order.tail;
        let done!: () => void;
        order.tail = new Promise<void>((r) => (done = r));
        try {
          await before;
          await new Promise((r) => setImmediate(r));
          const armed = trap.armed;
          if (armed !== undefined && live.get(this.dir) === this && armed.match(this.dir)) {
            trap.armed = undefined;
            armed.action(this.dir); // a kill here loses this write
          }
          if (lose && live.get(this.dir) !== this) {
            counts.lost++;
            trace?.(this.dir, `disk: ${what} LOST (killed)`);
            throw new Error('EIO: the process was killed before its write landed');
          }
          const result = await original.apply(this, args);
          trace?.(this.dir, `disk: ${what} landed`);
          return result;
        } finally {
          release?.();
          done();
        }
      };
    }
  }

  /** Restore `SnapshotStore`'s methods. */
  uninstall(): void {
    const proto = SnapshotStore.prototype as unknown as Record<string, Method>;
    for (const [name, f] of this.#originals) proto[name] = f;
    this.#originals.clear();
  }

  /**
   * The next write of a live process to a directory that `match` accepts runs `action` the
   * instant it is in flight (started, not yet on disk; the simulation held), once.
   */
  armWrite(match: (dir: string) => boolean, action: (dir: string) => void): void {
    this.#trap.armed = { match, action };
  }

  /** Whether a write trap is armed (not yet sprung). */
  get writeTrapArmed(): boolean {
    return this.#trap.armed !== undefined;
  }

  /** Disarm the write trap. */
  disarmWrite(): void {
    this.#trap.armed = undefined;
  }

  /** The process writing to `dir` was killed: its writes from now on never land. */
  killed(dir: string): void {
    this.#live.delete(dir);
  }
}
