/**
 * Disks that lose what a killed process had not written (`--lose-writes`): a kill -9 ends the
 * process's journal write in flight before it lands, and nothing the dead process would write
 * afterwards (its close, in the simulation) reaches its data directory. Its restart then reads
 * what its writes that ended before the kill left there, as on a real machine.
 *
 * To keep a seed's replay exact, every write of a replica holds the simulation while it runs
 * (`Clock.hold`): it takes no virtual time, and no engine step or timer comes between its
 * start and its end. It waits one turn of the event loop before touching the files, so a kill
 * in the turn that started it (a trap on a frame sent at a round's end, say) always catches
 * it in flight, and a later kill never does.
 * @module
 */
import { SnapshotStore } from '@cpgkit/statemachine';
import type { Clock } from '@cpgkit/core';

type Write = (this: SnapshotStore, ...args: unknown[]) => Promise<void>;

/** The data directories of one campaign's replicas whose writes a kill loses. */
export class LostWrites {
  /** The store of each data directory's running process (set when it opens). */
  readonly #live = new Map<string, SnapshotStore>();
  readonly #originals = new Map<'append' | 'save' | 'replicaId', unknown>();
  /** Writes that never landed (their process was killed first). */
  lost = 0;

  constructor(
    private readonly clock: Clock,
    private readonly dirs: (dir: string) => boolean,
  ) {}

  /** Wrap `SnapshotStore`'s writes (until `uninstall`). */
  install(): void {
    const self = this;
    const proto = SnapshotStore.prototype;
    const replicaId = proto.replicaId;
    this.#originals.set('replicaId', replicaId);
    // the first call of a replica opening: its store is its directory's live one from now on
    proto.replicaId = function (this: SnapshotStore) {
      if (self.dirs(this.dir)) self.#live.set(this.dir, this);
      return replicaId.call(this);
    };
    for (const name of ['append', 'save'] as const) {
      const original = proto[name] as unknown as Write;
      this.#originals.set(name, original);
      (proto as unknown as Record<string, Write>)[name] = async function (this, ...args) {
        if (!self.dirs(this.dir)) return original.apply(this, args);
        const release = self.clock.hold?.();
        try {
          await new Promise((r) => setImmediate(r));
          if (self.#live.get(this.dir) !== this) {
            self.lost++;
            throw new Error('EIO: the process was killed before its write landed');
          }
          await original.apply(this, args);
        } finally {
          release?.();
        }
      };
    }
  }

  /** Restore `SnapshotStore`'s methods. */
  uninstall(): void {
    const proto = SnapshotStore.prototype as unknown as Record<string, unknown>;
    for (const [name, f] of this.#originals) proto[name] = f;
    this.#originals.clear();
  }

  /** The process writing to `dir` was killed: its writes from now on never land. */
  killed(dir: string): void {
    this.#live.delete(dir);
  }
}
