/**
 * `cpgkit kv`: the replicated config store (`ReplicatedMap`) from a shell.
 *
 * - `kv serve`: an alias of `cpgkit serve` (the node agent holds the store and the locks).
 * - `kv get|set|delete|list|watch --group G ...`: clients (passive members) of the store that
 *   `cpgkit serve --group G` holds. They join, wait for a replica to send them the store, do one
 *   thing and leave. A client never bootstraps a store: when no replica answers within
 *   `--timeout`, the command exits 4 with `NoAgentError` (nothing applied).
 * - Reads (`get`, `list`) are linearizable by default: a read barrier through the agreed order,
 *   refused in a minority (exit 7: `--stale` reads this node's copy instead).
 * - A `set` or `delete` that fails in a way that guarantees it was not applied (dropped by a
 *   sync round that never finished, e.g. the one its own join started) is sent again until
 *   `--timeout`; any other failure says whether the write was not applied or its outcome is
 *   unknown (exit 5). `-w json` prints `{"key","revision"}` on stdout.
 *
 * Exit codes: see `exit-codes.ts`.
 * @module
 */
import { Option, type Command } from 'commander';
import { TimeoutError } from '@cpgkit/core';
import {
  MachineClosedError,
  NoQuorumError,
  type Json,
  type MapChange,
  type MapItem,
  type ReadConsistency,
  type ReplicatedMap,
} from '@cpgkit/statemachine';
import { formatDuration } from '../durations.js';
import {
  KeyNotSetError,
  UsageError,
  WriteNotAppliedError,
  WriteOutcomeUnknownError,
  writeOutcome,
} from '../errors.js';
import { ENV, groupOption, timeoutOption, type RegisterCommand } from '../util.js';
import { oneShot, retryNotApplied, type StoreOpts } from '../store-client.js';
import { serveCommand } from './serve.js';

/** How long a one-shot command waits for a replica (and for its write) by default, in seconds. */
export const DEFAULT_KV_TIMEOUT_S = 5;

interface ReadOpts extends StoreOpts {
  consistency?: string;
  stale?: boolean;
}

interface WriteOpts extends StoreOpts {
  writeOut: 'simple' | 'json';
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

/** `--consistency l|s|linearizable|stale` and `--stale`, as one `ReadConsistency`. */
export function readConsistency(o: { consistency?: string; stale?: boolean }): ReadConsistency {
  const c = o.consistency;
  const asked: ReadConsistency | undefined =
    c === undefined
      ? undefined
      : c === 'l' || c === 'linearizable'
        ? 'linearizable'
        : c === 's' || c === 'stale'
          ? 'stale'
          : (() => {
              throw new UsageError(`--consistency wants l (linearizable) or s (stale), got '${c}'`);
            })();
  if (o.stale && asked === 'linearizable')
    throw new UsageError('--stale and --consistency l exclude each other');
  return o.stale ? 'stale' : (asked ?? 'linearizable');
}

/**
 * Read with `consistency`: a linearizable read in a minority fails with `NoQuorumError` and a
 * hint about `--stale`; a stale read there warns on stderr.
 */
export async function readStore<T>(
  kv: ReplicatedMap,
  opts: StoreOpts,
  signal: AbortSignal,
  consistency: ReadConsistency,
  read: (o: { consistency: ReadConsistency; signal: AbortSignal; timeout: number }) => Promise<T>,
): Promise<T> {
  if (consistency === 'stale') {
    if (kv.status !== 'ready')
      process.stderr.write(
        `cpgkit: warning: group ${opts.group} is ${kv.status === 'minority' ? 'in a minority here (no quorum)' : kv.status}; this read may be stale\n`,
      );
    return read({ consistency, signal, timeout: opts.timeout });
  }
  const noQuorum = (cause?: unknown) =>
    new NoQuorumError(
      `no quorum: group ${opts.group} is in a minority partition here (or the cluster lost quorum), so a linearizable read is refused; --stale (or --consistency s) reads this node's copy, which may be stale`,
      cause === undefined ? {} : { cause },
    );
  if (kv.status === 'minority') throw noQuorum();
  try {
    return await retryNotApplied(opts.timeout, signal, (o) => read({ consistency, ...o }), true);
  } catch (err) {
    if (err instanceof NoQuorumError) throw noQuorum(err);
    if (err instanceof TimeoutError)
      throw new TimeoutError(
        `the read was not answered within ${formatDuration(opts.timeout)} (is the cluster quorate? see \`cpgkit status\`)`,
        { cause: err, outcome: 'not-applied' },
      );
    throw err;
  }
}

/**
 * A write on a client: refuses at once when the component has no quorum; tries again after an
 * error that guarantees it was not applied, until `--timeout`. Fails with `NoQuorumError`,
 * `WriteNotAppliedError` (safe to retry) or `WriteOutcomeUnknownError` (it may have been
 * applied), the original error as `cause`.
 */
export async function writeStore(
  kv: ReplicatedMap,
  opts: StoreOpts,
  signal: AbortSignal,
  op: (o: { signal: AbortSignal; timeout: number }) => Promise<number>,
): Promise<number> {
  if (kv.status === 'minority') {
    throw new NoQuorumError(
      `no quorum: group ${opts.group} is in a minority partition here (or the cluster lost quorum); the write was refused (not applied, safe to retry)`,
    );
  }
  try {
    return await retryNotApplied(opts.timeout, signal, op);
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err));
    if (err instanceof NoQuorumError)
      throw new NoQuorumError(`${e.message} (the write was not applied, safe to retry)`, {
        cause: err,
      });
    if (writeOutcome(err) === 'not-applied')
      throw new WriteNotAppliedError(`${e.name}: ${e.message} (not applied, safe to retry)`, {
        cause: err,
      });
    const what =
      err instanceof TimeoutError
        ? `the write was not acknowledged within ${formatDuration(opts.timeout)} (is the cluster quorate? see \`cpgkit status\`)`
        : `${e.name}: ${e.message}`;
    throw new WriteOutcomeUnknownError(
      `${what}; outcome unknown: it may have been applied (read the key before retrying)`,
      { cause: err },
    );
  }
}

/** `--group`, `--timeout` (bare: seconds), `--verbose`. */
export function storeOptions(cmd: Command): Command {
  return cmd
    .addOption(groupOption('the cpgkit group of the store'))
    .addOption(
      timeoutOption(
        'how long to wait for a replica, and for the read or write (bare: seconds)',
        's',
        DEFAULT_KV_TIMEOUT_S * 1000,
      ),
    )
    .option('--verbose', 'log sync decisions on stderr');
}

function readOptions(cmd: Command): Command {
  return cmd
    .addOption(
      new Option(
        '--consistency <l|s>',
        "l: linearizable (the default: through a quorum), s: stale (this node's copy)",
      ).env(ENV.consistency),
    )
    .option('--stale', "read this node's copy (may be stale; works without quorum)");
}

function writeOutOption(): Option {
  return new Option(
    '-w, --write-out <format>',
    'simple (a line on stderr) or json ({"key","revision"} on stdout)',
  )
    .choices(['simple', 'json'])
    .env(ENV.writeOut)
    .default('simple');
}

function itemJson(i: MapItem): Record<string, unknown> {
  const { key, value, revision, createRevision, version } = i;
  return { key, value, revision, createRevision, version };
}

/** Registers `cpgkit kv` and its subcommands. */
export const registerKv: RegisterCommand = (program) => {
  const kv = program
    .command('kv')
    .description(
      'the replicated config store: get/set/delete/list/watch keys (serve: alias of cpgkit serve)',
    );

  serveCommand(
    kv.command('serve').description('an alias of `cpgkit serve` (the store, locks and elections)'),
  );

  readOptions(storeOptions(kv.command('get')))
    .description('print the value of KEY as JSON (exit 1 if not set); linearizable unless --stale')
    .argument('<key>', 'the key')
    .option('--raw', 'print a string value as it is, without JSON quotes (like jq -r)')
    .addOption(
      new Option(
        '-w, --write-out <format>',
        'simple (the value) or json ({key, value, revision, createRevision, version})',
      )
        .choices(['simple', 'json'])
        .default('simple'),
    )
    .action(async (key: string, opts: ReadOpts & { raw?: boolean; writeOut: string }) => {
      const consistency = readConsistency(opts);
      await oneShot(opts, async (store, signal) => {
        const entry = await readStore(store, opts, signal, consistency, (o) => store.entry(key, o));
        if (entry === undefined)
          throw new KeyNotSetError(`key '${key}' is not set in group ${opts.group}`);
        if (opts.writeOut === 'json')
          process.stdout.write(`${JSON.stringify(itemJson({ key, ...entry }))}\n`);
        else
          process.stdout.write(
            `${opts.raw && typeof entry.value === 'string' ? entry.value : JSON.stringify(entry.value)}\n`,
          );
      });
    });

  storeOptions(kv.command('set'))
    .description('set KEY to VALUE (JSON if it parses, else the text as a string)')
    .argument('<key>', 'the key')
    .argument('<value>', 'the value')
    .addOption(writeOutOption())
    .action(async (key: string, value: string, opts: WriteOpts) => {
      if (key === '') throw new UsageError('KEY must not be empty');
      await oneShot(
        opts,
        async (store, signal) => {
          const rev = await writeStore(store, opts, signal, (o) =>
            store.set(key, parseValue(value), o),
          );
          if (opts.writeOut === 'json')
            process.stdout.write(`${JSON.stringify({ key, revision: rev })}\n`);
          else process.stderr.write(`cpgkit: set '${key}' at revision ${rev}\n`);
        },
        { write: true },
      );
    });

  storeOptions(kv.command('delete'))
    .description('delete KEY (no error when it is not set)')
    .argument('<key>', 'the key')
    .addOption(writeOutOption())
    .action(async (key: string, opts: WriteOpts) => {
      await oneShot(
        opts,
        async (store, signal) => {
          const existed = store.has(key);
          const rev = await writeStore(store, opts, signal, (o) => store.delete(key, o));
          if (opts.writeOut === 'json')
            process.stdout.write(`${JSON.stringify({ key, revision: rev })}\n`);
          else
            process.stderr.write(
              `cpgkit: ${existed ? 'deleted' : 'no such key'} '${key}' (revision ${rev})\n`,
            );
        },
        { write: true },
      );
    });

  readOptions(storeOptions(kv.command('list')))
    .description('list keys (under PREFIX): "KEY<TAB>JSON" lines, or a JSON array with --json')
    .argument('[prefix]', 'only keys that start with this', '')
    .option('--json', 'one JSON array of {key, value, revision, createRevision, version}')
    .action(async (prefix: string, opts: ReadOpts & { json?: boolean }) => {
      const consistency = readConsistency(opts);
      await oneShot(opts, async (store, signal) => {
        const items = await readStore(store, opts, signal, consistency, (o) =>
          store.list(prefix, o),
        );
        if (opts.json) process.stdout.write(`${JSON.stringify(items.map(itemJson))}\n`);
        else
          process.stdout.write(items.map((i) => `${i.key}\t${JSON.stringify(i.value)}\n`).join(''));
      });
    });

  storeOptions(kv.command('watch'))
    .description(
      "print changes (under PREFIX) as JSON lines until Ctrl-C: this client's own copy of the " +
        'store, from now on (no history), each change as soon as it is applied here, in the ' +
        'agreed order (before a majority acknowledged it); exit 8 if its connection closes',
    )
    .argument('[prefix]', 'only keys that start with this', '')
    .action(async (prefix: string, opts: StoreOpts) => {
      await oneShot(opts, async (store, signal) => {
        if (store.status !== 'ready')
          process.stderr.write(
            `cpgkit: warning: group ${opts.group} has no quorum here; changes may be stale\n`,
          );
        process.stderr.write(
          `cpgkit: watching group ${opts.group}${prefix === '' ? '' : ` under '${prefix}'`} from revision ${store.revision}\n`,
        );
        for await (const c of store.watch(prefix, { signal })) {
          process.stdout.write(`${JSON.stringify(changeJson(c))}\n`);
        }
        // the watch ends on Ctrl-C, or when the store closed under it (corosync gone): say so
        if (!signal.aborted)
          throw new MachineClosedError(
            `the watch of group ${opts.group} ended: its connection to the store closed`,
          );
      });
    });
};

function changeJson(c: MapChange): Record<string, unknown> {
  return c.type === 'set'
    ? { type: 'set', key: c.key, value: c.value, revision: c.revision }
    : { type: 'delete', key: c.key, revision: c.revision };
}
