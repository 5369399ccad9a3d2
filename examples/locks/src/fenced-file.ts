/**
 * A shared file that rejects stale fencing tokens: the storage side of fencing.
 *
 * A lock alone cannot protect a resource: a holder can pause (GC, SIGSTOP, a slow disk)
 * past the moment its lock was taken from it and then write anyway. So the resource itself
 * remembers the highest fencing token it has seen and refuses any write that carries a
 * lower one. The token check and the write happen under the file's own guard (an `O_EXCL` guard
 * file), so two writers can never both pass the check.
 * @module
 */
import { open, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { FencedResource } from '@cpgkit/locks';

/** What the shared file holds. */
export interface CounterFile {
  /** The counter the workers increment. */
  readonly counter: number;
  /** The highest fencing token that wrote to the file (a decimal string: tokens are bigints). */
  readonly token: string;
  /** Who wrote last. */
  readonly writer: string;
}

/**
 * A JSON file updated only with a fencing token at least as new as any it has seen.
 *
 * @example
 * ```ts
 * const file = new FencedFile('/tmp/counter.json');
 * await locks.withLock('counter', async (signal, lock) => {
 *   const { counter } = await file.read();
 *   await file.write(lock.token, 'worker-1', counter + 1);
 * });
 * ```
 */
export class FencedFile {
  constructor(
    /** The file's path. Its guard is `path + '.guard'`. */
    readonly path: string,
  ) {}

  /** Read the file (a fresh one reads as counter 0, token 0). */
  async read(): Promise<CounterFile> {
    try {
      return JSON.parse(await readFile(this.path, 'utf8')) as CounterFile;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT')
        return { counter: 0, token: '0', writer: '' };
      throw err;
    }
  }

  /**
   * Replace the counter, with fencing `token`. Rejects with `StaleTokenError` (from
   * `@cpgkit/locks`) and writes nothing when the file has seen a newer token.
   */
  async write(token: bigint, writer: string, counter: number): Promise<void> {
    await this.#guarded(async () => {
      const current = await this.read();
      // the check of @cpgkit/locks' FencedResource, against the highest token kept in the
      // file itself: throws StaleTokenError for a token older than one the file has seen
      new FencedResource(BigInt(current.token)).check(token);
      const next: CounterFile = { counter, token: token.toString(), writer };
      // atomic replace: readers see the old file or the new one, never half of one
      const tmp = `${this.path}.${process.pid}.tmp`;
      await writeFile(tmp, JSON.stringify(next));
      await rename(tmp, this.path);
    });
  }

  /** Run `fn` holding the guard file (created with O_EXCL; removed after). */
  async #guarded<T>(fn: () => Promise<T>): Promise<T> {
    const guard = `${this.path}.guard`;
    for (let attempt = 0; ; attempt++) {
      try {
        const handle = await open(guard, 'wx');
        await handle.close();
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 2000) throw err;
        await new Promise((r) => setTimeout(r, 2));
      }
    }
    try {
      return await fn();
    } finally {
      await rm(guard, { force: true });
    }
  }
}
