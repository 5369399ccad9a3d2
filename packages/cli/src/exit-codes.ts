/**
 * Every exit code of `cpgkit`, in one place: the README's table and the table at the end of
 * every `--help` are this file.
 * @module
 */

/** Done. */
export const EXIT_OK = 0;
/**
 * The condition the command asks about: `kv get` of a key that is not set, `lock -n` of a lock
 * that is busy (or `-E`'s code), `status` found a problem, `snapshot restore` into a store that
 * is not empty.
 */
export const EXIT_CONDITION = 1;
/** Wrong arguments, an unknown subcommand or flag (commander's errors too). Nothing was sent. */
export const EXIT_USAGE = 2;
/** The lock (or leadership) was lost while COMMAND ran; COMMAND was stopped. */
export const EXIT_LOST = 3;
/**
 * No replica of the group reachable within `--timeout`: nothing was applied (safe to retry).
 * Run `cpgkit serve --group G --data DIR` on the nodes.
 */
export const EXIT_NO_REPLICA = 4;
/**
 * A write whose outcome is unknown: it may have been applied (e.g. the node's corosync died
 * after the write was sent, or `--timeout` ran out before it was acknowledged). Read the key
 * before retrying a write that is not idempotent.
 */
export const EXIT_OUTCOME_UNKNOWN = 5;
/** `--timeout` ran out while waiting (for a lock, for the agents); nothing was applied. */
export const EXIT_TIMEOUT = 6;
/**
 * No quorum here: this node is in a minority partition (or the cluster lost quorum). Writes,
 * locks and linearizable reads are refused at once; nothing was applied. `--stale` reads locally.
 */
export const EXIT_NO_QUORUM = 7;
/**
 * Any other failure, with nothing applied: corosync not running or refusing access, a write
 * refused (too large, an invalid key...), a file that cannot be read. The error line says which.
 */
export const EXIT_FAILURE = 8;

/** The table, for `--help` and the README: code, meaning, what a write did. */
export const EXIT_CODE_TABLE: readonly (readonly [number, string])[] = [
  [EXIT_OK, 'ok'],
  [
    EXIT_CONDITION,
    'the condition asked about: key not set (kv get), lock busy (lock -n), status unhealthy',
  ],
  [EXIT_USAGE, 'usage: wrong arguments or flags; nothing sent'],
  [EXIT_LOST, 'lock/leader: lost while COMMAND ran; COMMAND was stopped'],
  [EXIT_NO_REPLICA, 'no replica (cpgkit serve) reachable; nothing applied'],
  [EXIT_OUTCOME_UNKNOWN, 'outcome unknown: the write may have been applied'],
  [EXIT_TIMEOUT, 'timed out (--timeout); nothing applied'],
  [EXIT_NO_QUORUM, 'no quorum here (minority); nothing applied; reads: try --stale'],
  [EXIT_FAILURE, 'failed otherwise (corosync not running, access denied...); nothing applied'],
];

/** The table as `--help` prints it. */
export function exitCodeHelp(): string {
  const lines = EXIT_CODE_TABLE.map(([code, text]) => `  ${String(code).padStart(3)}  ${text}`);
  return `\nExit codes (lock and leader exit with COMMAND's code when it ran):\n${lines.join('\n')}\n`;
}
