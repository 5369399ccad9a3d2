/**
 * SIGINT and SIGTERM as an AbortSignal, for commands that wait.
 * @module
 */

/** Abort on SIGINT/SIGTERM; returns the controller and the cleanup. */
export function interruptSignal(): { ctl: AbortController; off: () => void } {
  const ctl = new AbortController();
  const on = (sig: NodeJS.Signals): void => ctl.abort(new Error(`interrupted by ${sig}`));
  process.on('SIGINT', on);
  process.on('SIGTERM', on);
  return {
    ctl,
    off: () => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
    },
  };
}
