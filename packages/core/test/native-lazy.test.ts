import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));
const probe = join(here, 'fixtures', 'native-probe.ts');
const isRoot = process.getuid?.() === 0;
const hasUnshare = spawnSync('sh', ['-c', 'command -v unshare'], { stdio: 'ignore' }).status === 0;

interface Mapped {
  koffi: boolean;
  libcpg: boolean;
  libquorum: boolean;
}
interface ProbeResult {
  afterImport: Mapped;
  afterConnect?: Mapped;
  connected?: boolean;
  error?: {
    name: string;
    message: string;
    csError?: number;
    notRunning: boolean;
    libraryNotFound: boolean;
    accessDenied: boolean;
  };
}

/** Run the probe in a fresh process (optionally wrapped, e.g. in `unshare -n`). */
function runProbe(mode: string, wrap: string[] = []): ProbeResult {
  const node = [process.execPath, '--import', 'tsx', '--conditions=@cpgkit/source', probe, mode];
  const [cmd, ...args] = [...wrap, ...node];
  const r = spawnSync(cmd!, args, { cwd: here, encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`probe ${mode} exited ${r.status}: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as ProbeResult;
}

// Each test starts a fresh node process: seconds on a loaded machine, so a generous timeout.
describe('native code is loaded lazily', { timeout: 60_000 }, () => {
  it('importing @cpgkit/core maps neither koffi nor libcpg', () => {
    const r = runProbe('import');
    expect(r.afterImport).toEqual({ koffi: false, libcpg: false, libquorum: false });
  });

  it('a missing libcpg rejects connect with LibraryNotFoundError saying to install corosync', () => {
    const r = runProbe('missing-lib');
    expect(r.afterImport.koffi).toBe(false);
    expect(r.error?.name).toBe('LibraryNotFoundError');
    expect(r.error?.libraryNotFound).toBe(true);
    expect(r.error?.notRunning).toBe(true); // a LibraryNotFoundError is a CorosyncNotRunningError
    expect(r.error?.message).toMatch(/install corosync/);
    expect(r.afterConnect).toEqual({ koffi: true, libcpg: false, libquorum: false });
  });

  // A fresh network namespace has no corosync (its IPC sockets are per namespace).
  it.runIf(isRoot && hasUnshare)('no daemon: connect rejects with CorosyncNotRunningError', () => {
    const r = runProbe('connect', ['unshare', '--net']);
    expect(r.afterImport).toEqual({ koffi: false, libcpg: false, libquorum: false });
    expect(r.connected).toBeUndefined();
    expect(r.error?.name).toBe('CorosyncNotRunningError');
    expect(r.error?.csError).toBe(2);
    expect(r.error?.message).toMatch(/corosync -f -c/);
    expect(r.afterConnect?.libcpg).toBe(true);
  });
});
