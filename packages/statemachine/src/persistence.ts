/**
 * Crash-safe snapshots on disk: write a temporary file, fsync it, rename it over the old one,
 * fsync the directory. A crash at any point leaves either the old or the new snapshot. The
 * directory also keeps the member's replica id (see sync.ts: the replica set `Q`).
 * @module
 */
import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { v4 as uuidv4, validate as uuidValidate } from 'uuid';
import { parseImage, serializeImage, type Image } from './image.js';

/** A replica id read from (or created in) a data directory. */
export interface ReplicaIdentity {
  /** The uuid that names this replica in replica sets, stable across restarts. */
  readonly id: string;
  /** True when the id was created now (the directory never held a replica of this machine). */
  readonly created: boolean;
}

/** One machine's snapshot file in a data directory. */
export class SnapshotStore {
  /** The snapshot file's path. */
  readonly path: string;
  /** The replica id file's path. */
  readonly replicaPath: string;
  private readonly tmp: string;

  /**
   * @param dir - the data directory (created if missing)
   * @param name - the machine name (the file is `<name>.snapshot.json`, name made file-safe)
   */
  constructor(
    readonly dir: string,
    name: string,
  ) {
    const safe = name.replace(/[^A-Za-z0-9._-]/g, '_');
    this.path = join(dir, `${safe}.snapshot.json`);
    this.tmp = `${this.path}.tmp`;
    this.replicaPath = join(dir, `${safe}.replica-id`);
  }

  /**
   * This directory's replica id for the machine: read it, or create it durably (the same
   * atomic write as snapshots) when the directory has none. Throws when the file is corrupt.
   */
  async replicaId(): Promise<ReplicaIdentity> {
    try {
      const text = (await readFile(this.replicaPath, 'utf8')).trim();
      if (!uuidValidate(text)) throw new TypeError(`malformed replica id in ${this.replicaPath}`);
      return { id: text, created: false };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    const id = uuidv4();
    await this.writeAtomic(this.replicaPath, `${id}\n`);
    return { id, created: true };
  }

  /** Load the last snapshot; `undefined` when there is none. Throws when it is corrupt. */
  async load<S>(): Promise<Image<S> | undefined> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
    return parseImage<S>(text);
  }

  /** Write `image` atomically and durably. */
  async save<S>(image: Image<S>): Promise<void> {
    await this.writeAtomic(this.path, serializeImage(image), this.tmp);
  }

  private async writeAtomic(path: string, text: string, tmp = `${path}.tmp`): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const fh = await open(tmp, 'w', 0o600);
    try {
      await fh.writeFile(text, 'utf8');
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
    const dh = await open(this.dir, 'r');
    try {
      await dh.sync();
    } finally {
      await dh.close();
    }
  }

  /** Remove the snapshot (tests and `reset`); the replica id stays. */
  async remove(): Promise<void> {
    await unlink(this.path).catch(() => undefined);
  }
}
