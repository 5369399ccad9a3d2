/**
 * `cpgkit kv`: the replicated config store (`ReplicatedMap`) from a shell.
 *
 * - `kv serve --group G [--data DIR]`: a long-lived replica (persists to DIR); status lines on
 *   stderr; exits 0 on SIGTERM/SIGINT after writing its snapshot.
 * - `kv get|set|delete|list|watch --group G ...`: one-shot (passive) members. They join, wait
 *   for a replica to send them the store, do one thing and leave. A passive member never
 *   bootstraps a store and never leads a sync with an empty state: when no replica answers
 *   within `--timeout`, the command fails with `NoReplicaError` instead of inventing an empty
 *   store. A `set` or `delete` that fails in a way that guarantees it was not applied (dropped
 *   by a sync round that never finished, e.g. the one its own join started) is sent again
 *   until `--timeout`.
 *
 * Exit codes: 0 done, 1 failure (absent key for `get`, no replica, no quorum, timeout...),
 * 2 wrong arguments. Errors are one line on stderr.
 * @module
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  corosync,
  Group,
  InterruptedError,
  QueueFullError,
  TimeoutError,
  TryAgainError,
  type MemberId,
} from '@cpgkit/core';
import {
  NoQuorumError,
  NoReplicaError,
  ReplicatedMap,
  SnapshotStore,
  type Json,
  type MapChange,
  type MapState,
} from '@cpgkit/statemachine';
import type { Command } from 'commander';
import { UsageError, type RegisterCommand } from '../util.js';
import { interruptSignal, seconds } from './lock.js';

/** How long a one-shot command waits for a replica (and for its write) by default, in seconds. */
export const DEFAULT_KV_TIMEOUT_S = 5;

/** The machine name of the store (the `ReplicatedMap` default). */
const KV_MACHINE = 'cpgkit.kv';

/** `kv serve` logs a sync round that lasts longer than this. */
const SLOW_SYNC_MS = 2000;

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

/** The one-line message of `NoReplicaError` for `group`. */
export function noReplicaMessage(group: string, others: number, timeoutS: number): string {
  const seen =
    others === 0
      ? `no other member in the group within ${timeoutS} s`
      : `${others} other member(s) in the group, none sent the store within ${timeoutS} s`;
  return `no replica of group ${group} is reachable (${seen}): start one with \`cpgkit kv serve --group ${group} --data DIR\``;
}

/**
 * Open a one-shot (passive) member of the store `group` and wait until a replica has sent it
 * the store. Rejects with `NoReplicaError` when none does within `timeoutS` seconds.
 * @param group - the CPG group of the store
 * @param timeoutS - seconds to wait for a replica
 * @param signal - aborts the wait (Ctrl-C)
 * @param log - diagnostics (`--verbose`)
 */
export async function openOneShot(
  group: string,
  timeoutS: number,
  signal: AbortSignal,
  log?: (line: string) => void,
): Promise<ReplicatedMap> {
  const transport = new Group(corosync());
  const kv = await ReplicatedMap.open(transport, {
    name: KV_MACHINE,
    groupName: group,
    passive: true,
    bootstrap: false,
    checkInterval: 0,
    signal,
    timeout: timeoutS * 1000,
    ...(log === undefined ? {} : { log }),
  });
  try {
    await kv.machine.synced({ signal, timeout: timeoutS * 1000 });
  } catch (err) {
    await kv.close();
    if (err instanceof TimeoutError) {
      const self = transport.joined ? transport.self : undefined;
      const others = otherMembers(transport.members(), self);
      throw new NoReplicaError(noReplicaMessage(group, others, timeoutS), { cause: err });
    }
    throw err;
  }
  return kv;
}

function otherMembers(members: readonly MemberId[], self: MemberId | undefined): number {
  return members.filter((m) => self === undefined || m.nodeid !== self.nodeid || m.pid !== self.pid)
    .length;
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
    kv = await openOneShot(opts.group, opts.timeout, ctl.signal, log);
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
 * A write on a one-shot member: refuses at once when the component has no quorum; tries again
 * after an error that guarantees it was not applied (`notApplied`), until `--timeout`.
 */
async function write(
  kv: ReplicatedMap,
  opts: GroupOpts,
  signal: AbortSignal,
  op: (o: { signal: AbortSignal; timeout: number }) => Promise<number>,
): Promise<number> {
  if (kv.status === 'minority') {
    throw new NoQuorumError(
      `no quorum: group ${opts.group} is in a minority partition here (or the cluster lost quorum); the write was refused`,
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
    if (err instanceof TimeoutError) {
      throw new TimeoutError(
        `the write was not applied within ${opts.timeout} s (is the cluster quorate? see \`cpgkit kv serve\` logs)`,
        { cause: err },
      );
    }
    throw err;
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

function statusLine(kv: ReplicatedMap): string {
  const m = kv.machine;
  return `status ${kv.status} (epoch ${m.epoch}, index ${m.index}, revision ${kv.revision}, ${kv.size} keys, ${m.members.length} members)`;
}

/** `kv serve`: run until SIGTERM/SIGINT. */
async function serve(opts: {
  group: string;
  data?: string;
  verbose?: boolean;
  forceBootstrap?: boolean;
}): Promise<void> {
  const say = (l: string): void => void process.stderr.write(`cpgkit kv: ${l}\n`);
  const { ctl, off } = interruptSignal();
  const stopped = new Promise<void>((resolve) => {
    if (ctl.signal.aborted) resolve();
    ctl.signal.addEventListener('abort', () => resolve(), { once: true });
  });
  if (opts.data !== undefined) {
    // the machine restores the same file; read it here to say what this replica starts from
    const image = await new SnapshotStore(opts.data, KV_MACHINE).load<MapState>();
    say(
      image === undefined
        ? `no snapshot in ${opts.data}: starting empty`
        : `restored revision ${image.state.revision} (${image.state.count} keys, epoch ${image.epoch}, index ${image.index}) from ${opts.data}`,
    );
  }
  const kv = await ReplicatedMap.open(new Group(corosync()), {
    name: KV_MACHINE,
    groupName: opts.group,
    ...(opts.data === undefined ? {} : { dataDir: opts.data }),
    ...(opts.verbose ? { log: say } : {}),
    ...(opts.forceBootstrap ? { bootstrap: 'force' as const } : {}),
  });
  const self = kv.machine.self;
  say(
    `serving group ${opts.group} as ${self.nodeid}:${self.pid}` +
      (opts.data === undefined ? ' (in memory: --data DIR to persist)' : ` (data in ${opts.data})`),
  );
  let logged: string = kv.status;
  let slow: NodeJS.Timeout | undefined;
  say(statusLine(kv));
  const unsubs = [
    // a one-shot client's join and leave make two short sync rounds: log settled changes only,
    // and a sync only when it lasts
    kv.on('status', (e) => {
      clearTimeout(slow);
      if (e.status === 'syncing') {
        slow = setTimeout(() => {
          if (kv.status === 'syncing') say(`${statusLine(kv)} for over ${SLOW_SYNC_MS} ms`);
          logged = 'syncing';
        }, SLOW_SYNC_MS);
      } else if (e.status !== logged) {
        logged = e.status;
        say(statusLine(kv));
      }
    }),
    kv.on('mismatch', (e) =>
      say(
        `state digest mismatch at epoch ${e.epoch} index ${e.index} with ${e.from.nodeid}:${e.from.pid}: resyncing`,
      ),
    ),
    kv.on('foreign', (e) => {
      if (e.count === 1 || e.count % 1000 === 0)
        say(`skipped ${e.count} foreign message(s) in the group`);
    }),
  ];
  const closed = new Promise<Error | undefined>((resolve) =>
    kv.on('closed', (e) => resolve(e.error)),
  );
  try {
    const first = await Promise.race([stopped.then(() => 'stop' as const), closed]);
    if (first !== 'stop' && first !== undefined) throw first;
    if (first === 'stop') say(`stopping: ${String((ctl.signal.reason as Error).message)}`);
  } finally {
    off();
    clearTimeout(slow);
    for (const u of unsubs) u();
    await kv.close();
  }
  say(`stopped at revision ${kv.revision} (${kv.size} keys)`);
}

/** Registers `cpgkit kv` and its subcommands. */
export const registerKv: RegisterCommand = (program, setExit) => {
  const kv = program
    .command('kv')
    .description('the replicated config store: serve a replica, get/set/delete/list/watch keys');

  kv.command('serve')
    .description('run a long-lived replica of the store (until SIGTERM/SIGINT)')
    .requiredOption('--group <group>', 'the CPG group of the store')
    .option('--data <dir>', 'persist snapshots here; restored on start')
    .option('--verbose', 'log sync decisions on stderr')
    .option(
      '--force-bootstrap',
      'escape hatch when most replicas are lost for good: go on from the newest state present (once, on one replica)',
    )
    .action(serve);

  groupOptions(kv.command('get'))
    .description('print the value of KEY as JSON (exit 1 if not set)')
    .argument('<key>', 'the key')
    .action(async (key: string, opts: GroupOpts) => {
      await oneShot(opts, (store) => {
        warnIfStale(store, opts.group);
        const value = store.get(key);
        if (value === undefined) {
          process.stderr.write(`cpgkit: key '${key}' is not set in group ${opts.group}\n`);
          setExit(EXIT_ABSENT);
        } else {
          process.stdout.write(`${JSON.stringify(value)}\n`);
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
      await oneShot(opts, async (store, signal) => {
        const rev = await write(store, opts, signal, (o) => store.set(key, parseValue(value), o));
        process.stderr.write(`cpgkit: set '${key}' at revision ${rev}\n`);
      });
    });

  groupOptions(kv.command('delete'))
    .description('delete KEY (no error when it is not set)')
    .argument('<key>', 'the key')
    .action(async (key: string, opts: GroupOpts) => {
      await oneShot(opts, async (store, signal) => {
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
