/**
 * Opt-in slow disks for the tests: `CPGKIT_SLOW_DISKS=<maxMs>` makes every `SnapshotStore`
 * write (`append`, a log record plus its fdatasync, and `save`, a snapshot) wait a random 0 to
 * `maxMs` ms of real time before it starts, as a busy or slow real disk would. Unset (or 0), the
 * writes run at the speed of the machine's disk. The pause is taken by crash-disks.ts's wrapper
 * (installed for every test file of this project by test-disks-setup.ts) before it decides
 * whether the write still happens (a crash during the pause drops it); `Disks` (disks.ts)
 * waits inside its own wrapper instead, for the same reason.
 *
 * Rerun the suite with slow disks:
 *   CPGKIT_SLOW_DISKS=100 pnpm exec vitest run --project statemachine
 * @module
 */
/** `CPGKIT_SLOW_DISKS` in ms (0 when unset); throws on a value that is not a number ≥ 0. */
export function slowDisksMaxMs(): number {
  const text = process.env.CPGKIT_SLOW_DISKS;
  if (text === undefined || text === '') return 0;
  const ms = Number(text);
  if (!Number.isFinite(ms) || ms < 0)
    throw new Error(`CPGKIT_SLOW_DISKS must be a number of ms ≥ 0, not ${JSON.stringify(text)}`);
  return ms;
}

/** `suspendSlowDisks` calls not resumed yet. */
let suspended = 0;

/** The longest pause now: `CPGKIT_SLOW_DISKS`, or 0 while suspended. */
function pauseMaxMs(): number {
  return suspended > 0 ? 0 : slowDisksMaxMs();
}

/** Whether a write pauses now (then `slowDiskPause` waits; otherwise skip it: not one tick). */
export function slowDisksOn(): boolean {
  return pauseMaxMs() > 0;
}

/** Wait a random 0 to `CPGKIT_SLOW_DISKS` ms of real time (nothing when it is unset). */
export async function slowDiskPause(): Promise<void> {
  const max = pauseMaxMs();
  if (max > 0) await new Promise((r) => setTimeout(r, Math.random() * max));
}

/**
 * No pause until the function returned is called: for a test of the store's own timing (a
 * write that starts in its caller's turn), which a simulated disk in front of it would break.
 */
export function suspendSlowDisks(): () => void {
  suspended++;
  let resumed = false;
  return () => {
    if (resumed) return;
    resumed = true;
    suspended--;
  };
}
