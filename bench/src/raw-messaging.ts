/**
 * Raw group messaging, cpgkit against the plain C libcpg client: runs the native engineer's
 * `bench/src/raw.ts` (it brings its own C client and prints JSON) and turns its output
 * into report rows.
 * @module
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './paths.js';
import { run } from './procs.js';
import type { Row } from './report.js';

const SECTION = 'Raw group messaging (one sender, 3 nodes)';

/** One measurement as raw.ts reports it. */
interface RawEntry {
  readonly size?: number;
  readonly label?: string;
  readonly unit?: string;
  readonly cpgkit?: number;
  readonly c?: number;
  readonly note?: string;
}

/** Run raw.ts and return its rows (or one row per figure with the reason it is missing). */
export async function rawMessaging(
  quick: boolean,
  problems: string[],
): Promise<{ rows: Row[]; details: unknown }> {
  const script = join(repoRoot, 'bench', 'src', 'raw.ts');
  const missing = (note: string): Row[] =>
    ['64 B', '1 KB', '10 KB', 'logical 64 B messages, batched'].map((label) => ({
      section: SECTION,
      figure: `msgs/s, ${label}`,
      variant: '—',
      unit: 'msgs/s',
      better: 'higher',
      peer: 'C libcpg',
      note,
    }));
  if (!existsSync(script))
    return { rows: missing('bench/src/raw.ts is not there yet'), details: null };
  let out: string;
  try {
    out = await run(
      process.execPath,
      [
        '--import',
        'tsx',
        '--conditions=@cpgkit/source',
        script,
        '--json',
        ...(quick ? ['--quick'] : []),
      ],
      {
        cwd: repoRoot,
        timeoutMs: quick ? 300_000 : 900_000,
      },
    );
  } catch (error) {
    problems.push(`raw messaging: ${String(error)}`);
    return { rows: missing('raw.ts failed: see Problems'), details: null };
  }
  const last = out.trim().split('\n').at(-1) ?? '';
  let parsed: unknown;
  try {
    parsed = JSON.parse(last);
  } catch {
    problems.push(`raw messaging: last line of raw.ts is not JSON: ${last.slice(0, 200)}`);
    return { rows: missing('raw.ts output not understood'), details: out };
  }
  const entries = (
    Array.isArray(parsed) ? parsed : ((parsed as { rows?: unknown[] }).rows ?? [])
  ) as RawEntry[];
  const rows: Row[] = entries.map((e) => ({
    section: SECTION,
    figure: e.label ?? `msgs/s, ${e.size} B`,
    variant: '—',
    unit: e.unit ?? 'msgs/s',
    better: 'higher',
    peer: 'C libcpg',
    ...(e.cpgkit !== undefined ? { cpgkit: e.cpgkit } : {}),
    ...(e.c !== undefined ? { peerValue: e.c } : {}),
    ...(e.note ? { note: e.note } : {}),
  }));
  return { rows, details: parsed };
}
