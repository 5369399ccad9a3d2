/**
 * Crash-safe snapshots on disk: write a temporary file, fsync it, rename it over the old one,
 * fsync the directory. A crash at any point leaves either the old or the new snapshot.
 * @module
 */
import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { parseImage, serializeImage, type Image } from './image.js';

/** One machine's snapshot file in a data directory. */
export class SnapshotStore {
  /** The snapshot file's path. */
  readonly path: string;
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
    await mkdir(this.dir, { recursive: true });
    const fh = await open(this.tmp, 'w', 0o600);
    try {
      await fh.writeFile(serializeImage(image), 'utf8');
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(this.tmp, this.path);
    const dh = await open(this.dir, 'r');
    try {
      await dh.sync();
    } finally {
      await dh.close();
    }
  }

  /** Remove the snapshot (tests and `reset`). */
  async remove(): Promise<void> {
    await unlink(this.path).catch(() => undefined);
  }
}
