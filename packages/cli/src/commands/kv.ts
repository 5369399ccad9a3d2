/**
 * `cpgkit kv`: the replicated config store (`ReplicatedMap`) from a shell.
 *
 * - `kv serve`: an alias of `cpgkit serve` (the node agent holds the store and the locks).
 * - `kv get|set|delete|list|watch --group G ...`: clients (passive members) of the store that
 *   `cpgkit serve --group G` holds. They join, wait for a replica to send them the store, do one
 *   thing and leave. A client never bootstraps a store: when no replica answers within
 *   `--timeout`, the command exits 4 with `NoAgentError` (nothing applied). A `set` or `delete`
 *   that fails in a way that guarantees it was not applied (dropped by a sync round that never
 *   finished, e.g. the one its own join started) is sent again until `--timeout`; any other
 *   failure says whether the write was not applied (exit 1) or its outcome is unknown (exit 5).
 *
 * Exit codes: see `exit-codes.ts` (0 done, 1 failure with nothing applied or absent key for
 * `get`, 2 wrong arguments, 4 no replica, 5 outcome unknown).
 * @module
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { InterruptedError, QueueFullError, TimeoutError, TryAgainError } from '@cpgkit/core';
import { NoQuorumError, type Json, type MapChange, type ReplicatedMap } from '@cpgkit/statemachine';
import type { Command } from 'commander';
import { openStoreClient } from '../clients.js';
import {
  NoAgentError,
  WriteNotAppliedError,
  WriteOutcomeUnknownError,
  writeOutcome,
} from '../errors.js';
import { UsageError, type RegisterCommand } from '../util.js';
import { interruptSignal, seconds } from './lock.js';
import { serveCommand } from './serve.js';

/** How long a one-shot command waits for a replica (and for its write) by default, in seconds. */
export const DEFAULT_KV_TIMEOUT_S = 5;

/** Exit code of `kv get` when the key is not set. */
export const EXIT_ABSENT = 1;

interface GroupOpts {
  group: string;
  timeout: number;
  verbose?: boolean;
}

/**
 * Parse a `kv set` VALUE: JSON when it parses as JSON, otherwise the text itself as a string.
 * @example
 * ```ts
 * parseValue('42'); // 42
 * parseValue('{"a":1}'); // { a: 1 }
 * parseValue('hello'); // 'hello'
 * ```
 */
export function parseValue(text: string): Json {
  try {
    return JSON.parse(text) as Json;
  } catch {
    return text;
  }
}

function warnIfStale(kv: ReplicatedMap, group: string): void {
  if (kv.status === 'minority') {
    process.stderr.write(
      `cpgkit: warning: group ${group} has no quorum here; this read may be stale\n`,
    );
  }
}

/** Run `fn` on a one-shot member, then leave. */
async function oneShot<T>(
  opts: GroupOpts,
  fn: (kv: ReplicatedMap, signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const { ctl, off } = interruptSignal();
  const log = opts.verbose ? (l: string) => process.stderr.write(`cpgkit kv: ${l}\n`) : undefined;
  let kv: ReplicatedMap | undefined;
  try {
    kv = await openStoreClient({
      group: opts.group,
      replicaWaitMs: opts.timeout * 1000,
      signal: ctl.signal,
      ...(log === undefined ? {} : { log }),
    });
    return await fn(kv, ctl.signal);
  } finally {
    off();
    await kv?.close();
  }
}

/**
 * Whether `err` says the write was certainly not applied, so that sending it again cannot apply
 * it twice: the machine dropped it before anyone applied it (`InterruptedError`: it was queued
 * in a sync round that never finished, such as the one this client's own join started), or
 * it was never sent (`QueueFullError`, `TryAgainError`). Never a `TimeoutError` or an
 * `OutcomeUnknownError`: the write may have been applied.
 */
function notApplied(err: unknown): boolean {
  return (
    err instanceof InterruptedError || err instanceof QueueFullError || err instanceof TryAgainError
  );
}

/**
 * A write on a client: refuses at once when the component has no quorum; tries again after an
 * error that guarantees it was not applied (`notApplied`), until `--timeout`. Fails with
 * `WriteNotAppliedError` (safe to retry) or `WriteOutcomeUnknownError` (it may have been
 * applied), the original error as `cause`.
 */
async function write(
  kv: ReplicatedMap,
  opts: GroupOpts,
  signal: AbortSignal,
  op: (o: { signal: AbortSignal; timeout: number }) => Promise<number>,
): Promise<number> {
  if (kv.status === 'minority') {
    throw new WriteNotAppliedError(
      `no quorum: group ${opts.group} is in a minority partition here (or the cluster lost quorum); the write was refused (not applied, safe to retry)`,
      { cause: new NoQuorumError() },
    );
  }
  const deadline = performance.now() + opts.timeout * 1000;
  let delay = 20;
  try {
    for (;;) {
      try {
        return await op({ signal, timeout: Math.max(1, deadline - performance.now()) });
      } catch (err) {
        if (!notApplied(err) || deadline - performance.now() <= delay) throw err;
      }
      await sleep(delay, undefined, { signal }).catch(() => {
        throw signal.reason;
      });
      delay = Math.min(delay * 2, 500);
    }
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err));
    if (writeOutcome(err) === 'not-applied')
      throw new WriteNotAppliedError(`${e.name}: ${e.message} (not applied, safe to retry)`, {
        cause: err,
      });
    const what =
      err instanceof TimeoutError
        ? `the write was not acknowledged within ${opts.timeout} s (is the cluster quorate? see the \`cpgkit serve\` logs)`
        : `${e.name}: ${e.message}`;
    throw new WriteOutcomeUnknownError(
      `${what}; outcome unknown: it may have been applied (read the key before retrying)`,
      { cause: err },
    );
  }
}

/**
 * A write command: a failure before the write was handed to the group (opening, waiting for a
 * replica, corosync unreachable) did not apply it.
 */
async function writeCommand(
  opts: GroupOpts,
  fn: (kv: ReplicatedMap, signal: AbortSignal) => Promise<void>,
): Promise<void> {
  let started = false;
  try {
    await oneShot(opts, (kv, signal) => {
      started = true;
      return fn(kv, signal);
    });
  } catch (err) {
    if (
      started ||
      err instanceof NoAgentError ||
      err instanceof WriteNotAppliedError ||
      err instanceof WriteOutcomeUnknownError ||
      err instanceof UsageError
    )
      throw err;
    const e = err instanceof Error ? err : new Error(String(err));
    throw new WriteNotAppliedError(`${e.name}: ${e.message} (not applied, safe to retry)`, {
      cause: err,
    });
  }
}

function groupOptions(cmd: Command): Command {
  return cmd
    .requiredOption('--group <group>', 'the CPG group of the store')
    .option(
      '--timeout <s>',
      'seconds to wait for a replica (and for a write to be applied)',
      seconds('--timeout'),
      DEFAULT_KV_TIMEOUT_S,
    )
    .option('--verbose', 'log sync decisions on stderr');
}

/** Registers `cpgkit kv` and its subcommands. */
export const registerKv: RegisterCommand = (program, setExit) => {
  const kv = program
    .command('kv')
    .description(
      'the replicated config store: get/set/delete/list/watch keys (serve: alias of cpgkit serve)',
    );

  serveCommand(
    kv.command('serve').description('an alias of `cpgkit serve` (the store, locks and elections)'),
  );

  groupOptions(kv.command('get'))
    .description('print the value of KEY as JSON (exit 1 if not set)')
    .argument('<key>', 'the key')
    .option('--raw', 'print a string value as it is, without JSON quotes (like jq -r)')
    .action(async (key: string, opts: GroupOpts & { raw?: boolean }) => {
      await oneShot(opts, (store) => {
        warnIfStale(store, opts.group);
        const value = store.get(key);
        if (value === undefined) {
          process.stderr.write(`cpgkit: key '${key}' is not set in group ${opts.group}\n`);
          setExit(EXIT_ABSENT);
        } else {
          const text = opts.raw && typeof value === 'string' ? value : JSON.stringify(value);
          process.stdout.write(`${text}\n`);
        }
        return Promise.resolve();
      });
    });

  groupOptions(kv.command('set'))
    .description('set KEY to VALUE (JSON if it parses, else the text as a string)')
    .argument('<key>', 'the key')
    .argument('<value>', 'the value')
    .action(async (key: string, value: string, opts: GroupOpts) => {
      if (key === '') throw new UsageError('KEY must not be empty');
      await writeCommand(opts, async (store, signal) => {
        const rev = await write(store, opts, signal, (o) => store.set(key, parseValue(value), o));
        process.stderr.write(`cpgkit: set '${key}' at revision ${rev}\n`);
      });
    });

  groupOptions(kv.command('delete'))
    .description('delete KEY (no error when it is not set)')
    .argument('<key>', 'the key')
    .action(async (key: string, opts: GroupOpts) => {
      await writeCommand(opts, async (store, signal) => {
        const existed = store.has(key);
        const rev = await write(store, opts, signal, (o) => store.delete(key, o));
        process.stderr.write(
          `cpgkit: ${existed ? 'deleted' : 'no such key'} '${key}' (revision ${rev})\n`,
        );
      });
    });

  groupOptions(kv.command('list'))
    .description('list keys (under PREFIX): "KEY<TAB>JSON" lines, or a JSON array with --json')
    .argument('[prefix]', 'only keys that start with this', '')
    .option('--json', 'one JSON array of {key, value, revision, createRevision, version}')
    .action(async (prefix: string, opts: GroupOpts & { json?: boolean }) => {
      await oneShot(opts, (store) => {
        warnIfStale(store, opts.group);
        const items = store.list(prefix);
        if (opts.json) {
          const out = items.map(({ key, value, revision, createRevision, version }) => ({
            key,
            value,
            revision,
            createRevision,
            version,
          }));
          process.stdout.write(`${JSON.stringify(out)}\n`);
        } else {
          process.stdout.write(items.map((i) => `${i.key}\t${JSON.stringify(i.value)}\n`).join(''));
        }
        return Promise.resolve();
      });
    });

  groupOptions(kv.command('watch'))
    .description('print changes (under PREFIX) as JSON lines until Ctrl-C')
    .argument('[prefix]', 'only keys that start with this', '')
    .action(async (prefix: string, opts: GroupOpts) => {
      await oneShot(opts, async (store, signal) => {
        warnIfStale(store, opts.group);
        process.stderr.write(
          `cpgkit: watching group ${opts.group}${prefix === '' ? '' : ` under '${prefix}'`} from revision ${store.revision}\n`,
        );
        for await (const c of store.watch(prefix, { signal })) {
          process.stdout.write(`${JSON.stringify(changeJson(c))}\n`);
        }
      });
    });
};

function changeJson(c: MapChange): Record<string, unknown> {
  return c.type === 'set'
    ? { type: 'set', key: c.key, value: c.value, revision: c.revision }
    : { type: 'delete', key: c.key, revision: c.revision };
}
