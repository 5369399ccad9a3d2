/**
 * `cpgkit snapshot save FILE` / `cpgkit snapshot restore FILE`: a backup of a group's store as
 * one JSON file, and its restore through ordinary writes (etcdctl's habit).
 *
 * - `save` reads the whole store linearizably (through a quorum; `--stale` takes this node's
 *   copy, e.g. from a minority in a disaster) and writes FILE atomically (a temporary file
 *   renamed over it, mode 0600: a store often holds secrets).
 * - `restore` writes every key of FILE through transactions of the store, never by editing data
 *   directories: the revisions are new ones. It is refused (exit 1) unless the store is empty,
 *   or `--force` is given; without `--force` each transaction also requires its keys to be absent,
 *   so a write that races the restore is never overwritten. With `--force` the keys that FILE
 *   does not hold are deleted first. A store that fits in one transaction (up to
 *   `RESTORE_CHUNK_BYTES`) is restored all at once; a larger one chunk by chunk, each chunk all
 *   or nothing (re-run with `--force` after an interruption).
 * @module
 */
import { randomUUID } from 'node:crypto';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Json, MapCompare, MapOp } from '@cpgkit/statemachine';
import { StoreNotEmptyError, UsageError } from '../errors.js';
import { oneShot, type StoreOpts } from '../store-client.js';
import type { RegisterCommand } from '../util.js';
import { readConsistency, readStore, storeOptions, writeStore } from './kv.js';

/** The format of a snapshot file (`cpgkit: 'kv-snapshot'`, `v: 1`). */
export interface SnapshotFile {
  readonly cpgkit: 'kv-snapshot';
  readonly v: 1;
  /** The cpgkit group it was taken from. */
  readonly group: string;
  /** The store revision it shows. */
  readonly revision: number;
  /** When it was taken (ISO). */
  readonly time: string;
  /** Whether it was read linearizably or from one node's copy (`--stale`). */
  readonly consistency: 'linearizable' | 'stale';
  /** Every key, sorted, with its value and (for information) its revisions. */
  readonly entries: readonly {
    readonly key: string;
    readonly value: Json;
    readonly revision: number;
    readonly createRevision: number;
    readonly version: number;
  }[];
}

/** Bytes of keys and JSON values per restore transaction. */
export const RESTORE_CHUNK_BYTES = 256 * 1024;

/** Parse and check a snapshot file's text. */
export function parseSnapshot(text: string, file: string): SnapshotFile {
  let s: Partial<SnapshotFile>;
  try {
    s = JSON.parse(text) as Partial<SnapshotFile>;
  } catch (err) {
    throw new UsageError(`${file} is not a cpgkit snapshot: ${(err as Error).message}`);
  }
  if (s.cpgkit !== 'kv-snapshot' || s.v !== 1 || !Array.isArray(s.entries))
    throw new UsageError(
      `${file} is not a cpgkit snapshot (version 1): made by \`cpgkit snapshot save\`?`,
    );
  for (const e of s.entries as unknown[])
    if (
      typeof e !== 'object' ||
      e === null ||
      typeof (e as { key?: unknown }).key !== 'string' ||
      (e as { key: string }).key === '' ||
      !('value' in e)
    )
      throw new UsageError(`${file}: an entry without a key or a value`);
  return s as SnapshotFile;
}

/** Split `ops` into chunks of about `max` bytes (a chunk holds at least one op). */
export function chunks<T extends MapOp>(ops: readonly T[], max: number): T[][] {
  const out: T[][] = [];
  let cur: T[] = [];
  let bytes = 0;
  for (const op of ops) {
    const size = op.key.length + (op.op === 'set' ? JSON.stringify(op.value).length : 0) + 16;
    if (cur.length > 0 && bytes + size > max) {
      out.push(cur);
      cur = [];
      bytes = 0;
    }
    cur.push(op);
    bytes += size;
  }
  if (cur.length > 0) out.push(cur);
  return out;
}

interface SaveOpts extends StoreOpts {
  consistency?: string;
  stale?: boolean;
}

/** Registers `cpgkit snapshot save|restore`. */
export const registerSnapshot: RegisterCommand = (program) => {
  const snap = program
    .command('snapshot')
    .description("back up a group's store to a JSON file, and restore it (like etcdctl snapshot)");

  storeOptions(snap.command('save'))
    .description('write the whole store to FILE (linearizable unless --stale)')
    .argument('<file>', 'the file to write (replaced atomically)')
    .option('--consistency <l|s>', 'l: linearizable (the default), s: stale')
    .option('--stale', "this node's copy (may be stale; works without quorum)")
    .action(async (file: string, opts: SaveOpts) => {
      const consistency = readConsistency(opts);
      await oneShot(opts, async (store, signal) => {
        const items = await readStore(store, opts, signal, consistency, (o) => store.list('', o));
        const revision = Math.max(store.revision, ...items.map((i) => i.revision));
        const snapshot: SnapshotFile = {
          cpgkit: 'kv-snapshot',
          v: 1,
          group: opts.group,
          revision,
          time: new Date().toISOString(),
          consistency,
          entries: items.map(({ key, value, revision: r, createRevision, version }) => ({
            key,
            value,
            revision: r,
            createRevision,
            version,
          })),
        };
        const tmp = join(dirname(file), `.${basename(file)}.${randomUUID()}.tmp`);
        try {
          await writeFile(tmp, `${JSON.stringify(snapshot)}\n`, { mode: 0o600, flag: 'wx' });
          await rename(tmp, file);
        } finally {
          await rm(tmp, { force: true });
        }
        process.stderr.write(
          `cpgkit: saved ${items.length} keys of group ${opts.group} (revision ${revision}) to ${file}\n`,
        );
      });
    });

  storeOptions(snap.command('restore'))
    .description(
      'write every key of FILE to the store (refused unless the store is empty, or --force)',
    )
    .argument('<file>', 'a file written by `cpgkit snapshot save`')
    .option(
      '--force',
      'restore into a store that holds keys: delete those FILE does not hold, set the others',
    )
    .action(async (file: string, opts: StoreOpts & { force?: boolean }) => {
      const snapshot = parseSnapshot(await readFile(file, 'utf8'), file);
      await oneShot(
        opts,
        async (store, signal) => {
          const present = await readStore(store, opts, signal, 'linearizable', (o) =>
            store.list('', o),
          );
          if (present.length > 0 && !opts.force)
            throw new StoreNotEmptyError(
              `the store of group ${opts.group} holds ${present.length} keys (revision ${store.revision}); restore refused (nothing written): use --force to replace them`,
            );
          const keep = new Set(snapshot.entries.map((e) => e.key));
          const deletes: MapOp[] = present
            .filter((i) => !keep.has(i.key))
            .map((i) => ({ op: 'delete', key: i.key }));
          const sets: MapOp[] = snapshot.entries.map((e) => ({
            op: 'set',
            key: e.key,
            value: e.value,
          }));
          const batches = chunks([...deletes, ...sets], RESTORE_CHUNK_BYTES);
          let rev = store.revision;
          for (const ops of batches) {
            const compares: MapCompare[] = opts.force
              ? []
              : ops.map((op) => ({ key: op.key, exists: false }));
            rev = await writeStore(store, opts, signal, (o) => store.transaction(compares, ops, o));
          }
          process.stderr.write(
            `cpgkit: restored ${sets.length} keys${deletes.length > 0 ? ` and deleted ${deletes.length}` : ''} into group ${opts.group} from ${file} (revision ${rev}, ${batches.length} transaction${batches.length === 1 ? '' : 's'})\n`,
          );
        },
        { write: true },
      );
    });
};
