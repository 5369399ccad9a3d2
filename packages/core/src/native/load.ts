/**
 * The ONE place where native code is loaded. Nothing here runs at import time: importing
 * `@cpgkit/core` never loads koffi, libcpg or libquorum. The first `corosync().connect()` calls
 * `loadNative()`, which imports koffi dynamically and opens the libraries once per process.
 * @module
 */
import type * as Koffi from 'koffi';
import { LibraryNotFoundError } from '../errors.js';
import { bindCpg, type CpgLib } from './libcpg.js';
import { bindQuorum, type QuorumLib } from './libquorum.js';
import { bindLibc, type LibcLib } from './libc.js';

/** Where to find the libraries (defaults: the sonames of corosync 3). */
export interface NativeLibraryPaths {
  /** @defaultValue `'libcpg.so.4'` */
  readonly cpg?: string;
  /** @defaultValue `'libquorum.so.5'` */
  readonly quorum?: string;
}

/** Everything the corosync transport calls natively. */
export interface Native {
  readonly koffi: typeof Koffi;
  readonly cpg: CpgLib;
  readonly quorum: QuorumLib;
  readonly libc: LibcLib;
}

const cache = new Map<string, Promise<Native>>();

/**
 * Import koffi and open libcpg, libquorum and libc (once per set of paths; later calls share
 * the result). Rejects with `LibraryNotFoundError` when a library is missing.
 */
export function loadNative(paths: NativeLibraryPaths = {}): Promise<Native> {
  const cpgPath = paths.cpg ?? 'libcpg.so.4';
  const quorumPath = paths.quorum ?? 'libquorum.so.5';
  const key = `${cpgPath}\0${quorumPath}`;
  let p = cache.get(key);
  if (!p) {
    p = load(cpgPath, quorumPath);
    cache.set(key, p);
    // a failed load may succeed later (the user installs corosync): do not cache failures
    p.catch(() => cache.delete(key));
  }
  return p;
}

async function load(cpgPath: string, quorumPath: string): Promise<Native> {
  let koffi: typeof Koffi;
  try {
    const mod = (await import('koffi')) as typeof Koffi & { default?: typeof Koffi };
    koffi = mod.default ?? mod;
  } catch (err) {
    throw new LibraryNotFoundError(
      `cannot load koffi (the FFI module cpgkit uses to call libcpg): ${(err as Error).message}`,
      { cause: err },
    );
  }
  const open = (path: string, what: string): Koffi.LibraryHandle => {
    try {
      return koffi.load(path);
    } catch (err) {
      throw new LibraryNotFoundError(
        `cannot load ${path} (${what}): install corosync 3 (Debian/Ubuntu: apt-get install corosync; ` +
          `RHEL/Fedora: dnf install corosync corosynclib), or pass its path to corosync({ libraries })`,
        { cause: err },
      );
    }
  };
  const cpgLib = open(cpgPath, "corosync's CPG client library");
  const quorumLib = open(quorumPath, "corosync's quorum client library");
  const libcLib = open('libc.so.6', 'the C library');
  return {
    koffi,
    cpg: bindCpg(koffi, cpgLib),
    quorum: bindQuorum(koffi, quorumLib),
    libc: bindLibc(libcLib),
  };
}
