/**
 * Disks that honour a crash, for every test of this project (installed by test-disks-setup.ts):
 * once the process writing to a data directory is killed (`crashDir`, which the simulated
 * cluster's `crashProcess` calls through crashed-processes.ts), no write of the stores it had
 * opened reaches the files any more, as after a real `kill -9`:
 *
 * - a write that had not started (waiting on a slow disk, `CPGKIT_SLOW_DISKS`, or queued
 *   behind another one) never starts: it fails with EIO, to the dead process only;
 * - the write that was running at the crash ends as a real one may have: a log append
 *   (`append`, one `writev` of the record) lands whole, is lost, or is torn (a prefix of the
 *   record, the rest zeros), in turn (`crashedAppendOutcomes`); a snapshot (`save`, several
 *   steps) finishes, as if the kill came right after it;
 * - `crashAtWrite` kills a process at the instant its next write starts (deterministically);
 * - its `close` does not cut the zeros off the log (a killed process closes nothing): it only
 *   lets go of the file handle;
 * - a store that opens the directory afterwards (the restart) reads nothing before the dead
 *   process's running write has ended as above (`replicaId` and `load` wait for it).
 *
 * A store counts as the dead process's once it has touched its directory (its first
 * `replicaId`, `load` or write); one built but not yet used at the crash is not caught (the
 * tests kill replicas that have opened).
 * @module
 */
import { open } from 'node:fs/promises';
import { SnapshotStore } from '../src/persistence.js';
import { slowDiskPause, slowDisksOn } from './slow-disks.js';

/** The simulated disk writes of `SnapshotStore`. */
export type WriteName = 'append' | 'save';
type Method = (this: SnapshotStore, ...args: unknown[]) => Promise<unknown>;

/** What becomes of a log append running when its process is killed. */
export type CrashedAppend = 'landed' | 'lost' | 'torn';

/** The outcomes given in turn to the appends a crash catches running. */
let outcomes: readonly CrashedAppend[] = ['lost', 'torn', 'landed'];
let nextOutcome = 0;

/** What the crashes did to the dead processes' writes (since the last `resetCrashCounts`). */
export const crashCounts = {
  /** Writes that had not started at the crash (never did). */
  dropped: 0,
  /** Appends running at the crash, by outcome; snapshots running at the crash (finished). */
  landed: 0,
  lost: 0,
  torn: 0,
  saves: 0,
};

/**
 * Zero `crashCounts`; the next append a crash catches running gets outcome number `first` (a
 * seeded schedule starts where its seed says, so that every outcome comes up).
 */
export function resetCrashCounts(first = 0): void {
  for (const k of Object.keys(crashCounts) as (keyof typeof crashCounts)[]) crashCounts[k] = 0;
  nextOutcome = first;
}

/**
 * The outcomes that the appends running at a crash get, in turn (default: lost, torn,
 * landed). Returns a function that puts the default back.
 */
export function crashedAppendOutcomes(order: readonly CrashedAppend[]): () => void {
  outcomes = order;
  nextOutcome = 0;
  return () => {
    outcomes = ['lost', 'torn', 'landed'];
    nextOutcome = 0;
  };
}

interface Running {
  readonly name: WriteName | 'close';
  /** The log's size before an append (`logSize`). */
  readonly logBefore: number;
  readonly done: Promise<unknown>;
}

/** The stores that touched each directory and were not killed. */
const alive = new Map<string, Set<SnapshotStore>>();
const dead = new WeakSet<SnapshotStore>();
/** Each store's write (or close) running now. */
const running = new WeakMap<SnapshotStore, Set<Running>>();
/** Per directory: the end of the dead processes' running writes (and what the crash made of them). */
const settling = new Map<string, Promise<void>>();

/** The real methods, before `installCrashDisks` wrapped them. */
const real = new Map<string, Method>();

function killedError(): Error {
  return Object.assign(new Error('EIO: the process was killed (crash-disks.ts)'), {
    code: 'EIO',
  });
}

function touch(store: SnapshotStore): void {
  if (dead.has(store)) return;
  let set = alive.get(store.dir);
  if (set === undefined) alive.set(store.dir, (set = new Set()));
  set.add(store);
}

/** When a kill springs on a directory's next write (`crashAtWrite`). */
export type WriteTrapMoment = 'before' | 'running';

/** Armed traps: the next write of a directory's live store runs `kill` (`crashAtWrite`). */
const traps = new Map<string, { when: WriteTrapMoment; kill: () => void }>();

/**
 * The next write to `dir` (of a store not killed) calls `kill` the instant it starts: `before`
 * it touches the files (it is pending: the kill drops it), or once it is `running` (the kill
 * catches it in flight: it lands, is lost or torn, as the module header says). `kill` should
 * kill the process (`crashProcess`, which calls `crashDir`). Deterministic: where in the agreed
 * stream the write starts decides, not how long the disk takes. Replaces a trap armed before.
 */
export function crashAtWrite(dir: string, when: WriteTrapMoment, kill: () => void): void {
  traps.set(dir, { when, kill });
}

/** Disarm the write trap of `dir` (`crashAtWrite`). */
export function disarmWriteTrap(dir: string): void {
  traps.delete(dir);
}

/** Spring the trap armed on `store`'s directory for `when`, if any. */
function spring(store: SnapshotStore, when: WriteTrapMoment): void {
  const trap = traps.get(store.dir);
  if (trap === undefined || trap.when !== when || dead.has(store)) return;
  traps.delete(store.dir);
  trap.kill();
}

/** Whether `store`'s process was killed. */
export function isDead(store: SnapshotStore): boolean {
  return dead.has(store);
}

/**
 * The process writing to `dir` was killed: what its stores had not written never reaches the
 * files; the write running now ends as the module header says before the next store of `dir`
 * reads it. Synchronous (call it at the instant of the kill).
 */
export function crashDir(dir: string): void {
  const stores = alive.get(dir);
  alive.delete(dir);
  if (stores === undefined) return;
  const ends: Promise<void>[] = [settling.get(dir) ?? Promise.resolve()];
  for (const s of stores) {
    dead.add(s);
    // a test may have removed the directory meanwhile: then nothing is left to end
    for (const r of running.get(s) ?? []) ends.push(settle(s, r).catch(() => undefined));
  }
  settling.set(
    dir,
    Promise.all(ends).then(() => undefined),
  );
}

/** Every process was killed (a power cut): `crashDir` for every directory. */
export function crashAll(): void {
  for (const dir of [...alive.keys()]) crashDir(dir);
}

/** Wait until the writes that crashes caught running in `dir` have ended. */
export function settled(dir: string): Promise<void> {
  return settling.get(dir) ?? Promise.resolve();
}

/** End a write that a crash caught running (`crashDir`). */
async function settle(store: SnapshotStore, r: Running): Promise<void> {
  try {
    await r.done;
  } catch {
    return; // it failed on its own: nothing landed that matters
  }
  if (r.name === 'close') return;
  if (r.name === 'save') {
    crashCounts.saves++;
    return;
  }
  const from = r.logBefore;
  const to = store.logSize;
  // before > 0: the record was written in place at `from` (not into a new log)
  if (from === 0 || to <= from) {
    crashCounts.landed++;
    return;
  }
  const outcome = outcomes[nextOutcome++ % outcomes.length]!;
  crashCounts[outcome]++;
  if (outcome === 'landed') return;
  // torn: the first half of the record (no newline, so `load` cuts it off); lost: none of it
  const keep = outcome === 'torn' ? Math.max(1, Math.floor((to - from) / 2)) : 0;
  const fh = await open(store.logPath, 'r+');
  try {
    await fh.write(Buffer.alloc(to - from - keep), 0, to - from - keep, from + keep);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

function track(
  store: SnapshotStore,
  name: Running['name'],
  done: Promise<unknown>,
  logBefore = 0,
): void {
  let set = running.get(store);
  if (set === undefined) running.set(store, (set = new Set()));
  const r: Running = { name, logBefore, done };
  set.add(r);
  const end = (): void => void set.delete(r);
  done.then(end, end);
}

/** `SnapshotStore`'s write `name`, honouring crashes, without the slow disk's pause. */
export function crashAwareWrite(name: WriteName): Method {
  const original = realMethod(name);
  return function (this: SnapshotStore, ...args: unknown[]) {
    spring(this, 'before');
    if (dead.has(this)) {
      crashCounts.dropped++;
      return Promise.reject(killedError());
    }
    touch(this);
    const logBefore = this.logSize;
    // started in the caller's turn, as without the wrapper
    const done = original.apply(this, args);
    track(this, name, done, logBefore);
    spring(this, 'running');
    return done.then((v) => {
      if (dead.has(this)) throw killedError(); // killed meanwhile: the dead caller learns nothing
      return v;
    });
  };
}

function realMethod(name: string): Method {
  return (
    real.get(name) ??
    (Object.getOwnPropertyDescriptor(SnapshotStore.prototype, name)!.value as Method)
  );
}

/**
 * Wrap `SnapshotStore`'s methods for this module (once per test file). A plain assignment, not
 * a `vi.spyOn`: the tests' `vi.restoreAllMocks()` keeps it. With `CPGKIT_SLOW_DISKS`, a write
 * first waits (slow-disks.ts), as if it had not started: a crash meanwhile drops it.
 */
export function installCrashDisks(): void {
  if (real.size > 0) return;
  const proto = SnapshotStore.prototype as unknown as Record<string, Method>;
  for (const name of ['append', 'save', 'close', 'load', 'replicaId'])
    real.set(name, realMethod(name));
  for (const name of ['append', 'save'] as const) {
    const write = crashAwareWrite(name);
    define(proto, name, function (this: SnapshotStore, ...args: unknown[]) {
      // no pause: the real write, started in the caller's turn as without the wrapper
      if (!slowDisksOn()) return write.apply(this, args);
      return slowDiskPause().then(() => write.apply(this, args));
    });
  }
  const close = real.get('close')!;
  define(proto, 'close', function (this: SnapshotStore, ...args: unknown[]) {
    if (!dead.has(this)) {
      const done = close.apply(this, args);
      track(this, 'close', done);
      return done;
    }
    // a killed process cuts nothing off its log: only its file handle goes
    return (this as unknown as { closeLog(): Promise<void> }).closeLog();
  });
  for (const name of ['load', 'replicaId']) {
    const read = real.get(name)!;
    define(proto, name, async function (this: SnapshotStore, ...args: unknown[]) {
      await settled(this.dir);
      if (dead.has(this)) throw killedError();
      touch(this);
      return read.apply(this, args);
    });
  }
}

function define(proto: Record<string, Method>, name: string, value: Method): void {
  Object.defineProperty(proto, name, { configurable: true, writable: true, value });
}
