/**
 * Every exit code of `cpgkit`, in one place (the README's table is this file).
 * @module
 */

/** Done. */
export const EXIT_OK = 0;
/**
 * Failed, and nothing was applied: a timeout waiting for a lock, no quorum (a write refused),
 * `kv get` of a key that is not set, corosync not running, a status check that found the group
 * not quorate or digests that disagree.
 */
export const EXIT_FAILURE = 1;
/** Wrong arguments, an unknown subcommand. */
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
 * after the write was sent). Read the key before retrying a write that is not idempotent.
 */
export const EXIT_OUTCOME_UNKNOWN = 5;
