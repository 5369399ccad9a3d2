/**
 * Raw group messaging, cpgkit against the plain C libcpg client: runs `bench/src/raw.ts`
 * (written with the native reference client; it compiles `bench/native/cpgbench.c`, runs C,
 * cpgkit and the bare driver in alternating rounds and prints its result as one JSON line)
 * inside node 1's network namespace, and turns that JSON into report rows.
 * @module
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './paths.js';
import { run } from './procs.js';
import { fmt, type Row } from './report.js';

const SECTION = 'Raw group messaging (one sender, 3 nodes, peer: plain C libcpg client)';

/** The part of raw.ts's JSON line that the report uses. */
interface RawResult {
  readonly rounds?: number;
  readonly sizes?: Record<
    string,
    {
      readonly count?: number;
      readonly c?: { readonly median?: number };
      readonly cpgkit?: { readonly median?: number };
      readonly driver?: { readonly median?: number };
      readonly floor?: { readonly median?: number };
      readonly pairedRatio?: number;
    }
  >;
  readonly batch?: { readonly logicalMsgsPerSec?: number; readonly cMsgsPerSec?: number };
}

function sizeLabel(bytes: number): string {
  return bytes >= 1024 && bytes % 1024 === 0 ? `${bytes / 1024} KB` : `${bytes} B`;
}

/** Install gcc and libcpg-dev with apt-get when the C client cannot be compiled without them. */
export async function ensureCToolchain(): Promise<void> {
  const missing = [
    ...(existsSync('/usr/include/corosync/cpg.h') ? [] : ['libcpg-dev']),
    ...((await run('gcc', ['--version'], { timeoutMs: 10_000 }).then(
      () => true,
      () => false,
    ))
      ? []
      : ['gcc']),
  ];
  if (missing.length === 0) return;
  console.error(
    `bench: installing ${missing.join(' ')} with apt-get (to compile the C libcpg client)...`,
  );
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  try {
    await run('apt-get', ['install', '-y', ...missing], { env, timeoutMs: 300_000 });
  } catch {
    await run('apt-get', ['update'], { env, timeoutMs: 300_000 });
    await run('apt-get', ['install', '-y', ...missing], { env, timeoutMs: 300_000 });
  }
}

/** Run raw.ts and return its rows (or rows that say why they are missing). */
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
  if (!existsSync(script)) return { rows: missing('bench/src/raw.ts is not there'), details: null };
  try {
    await ensureCToolchain();
  } catch (error) {
    problems.push(`raw messaging: cannot install gcc/libcpg-dev: ${String(error)}`);
    return { rows: missing('no C toolchain: see Problems'), details: null };
  }
  const args = quick
    ? ['--rounds', '1', '--scale', '0.3', '--batch-count', '200000']
    : ['--rounds', '5'];
  let out: string;
  try {
    out = await run(
      'bash',
      [
        'scripts/cluster',
        'exec',
        '1',
        process.execPath,
        '--import',
        'tsx',
        '--conditions=@cpgkit/source',
        script,
        ...args,
      ],
      { cwd: repoRoot, timeoutMs: quick ? 300_000 : 900_000 },
    );
  } catch (error) {
    problems.push(`raw messaging: ${String(error)}`);
    return { rows: missing('raw.ts failed: see Problems'), details: null };
  }
  const lines = out.trim().split('\n');
  let parsed: RawResult;
  try {
    parsed = JSON.parse(lines.at(-1) ?? '') as RawResult;
  } catch {
    problems.push(
      `raw messaging: the last line of raw.ts is not JSON: ${(lines.at(-1) ?? '').slice(0, 200)}`,
    );
    return { rows: missing('raw.ts output not understood'), details: out };
  }
  const rows: Row[] = [];
  for (const [size, r] of Object.entries(parsed.sizes ?? {})) {
    const driver = r.driver?.median;
    const floor = r.floor?.median;
    const c = r.c?.median;
    const notes = [
      `median of ${parsed.rounds ?? '?'} alternating rounds of ${r.count ?? '?'} messages`,
      r.pairedRatio !== undefined
        ? `paired-round median ratio ${r.pairedRatio.toFixed(2)}x`
        : undefined,
      driver !== undefined && c
        ? `bare driver ${fmt(driver)} msgs/s (${(driver / c).toFixed(2)}x)`
        : undefined,
      floor !== undefined && c
        ? `koffi floor (C's loop over koffi, no cpgkit code) ${fmt(floor)} msgs/s (${(floor / c).toFixed(2)}x)`
        : undefined,
    ];
    rows.push({
      section: SECTION,
      figure: `msgs/s, ${sizeLabel(Number(size))}`,
      variant: 'cpgkit Group.send vs cpg_mcast_joined',
      unit: 'msgs/s',
      better: 'higher',
      peer: 'C libcpg',
      ...(r.cpgkit?.median !== undefined ? { cpgkit: r.cpgkit.median } : {}),
      ...(c !== undefined ? { peerValue: c } : {}),
      note: notes.filter(Boolean).join('; '),
    });
  }
  if (parsed.batch) {
    rows.push({
      section: SECTION,
      figure: 'logical 64 B messages/s, batched',
      variant: 'cpgkit batched sends vs C unbatched',
      unit: 'msgs/s',
      better: 'higher',
      peer: 'C libcpg',
      ...(parsed.batch.logicalMsgsPerSec !== undefined
        ? { cpgkit: parsed.batch.logicalMsgsPerSec }
        : {}),
      ...(parsed.batch.cMsgsPerSec !== undefined ? { peerValue: parsed.batch.cMsgsPerSec } : {}),
      note: 'many sends per tick, packed by Group into few CPG messages; goal ≥ 10x',
    });
  }
  if (rows.length === 0) return { rows: missing('raw.ts reported no sizes'), details: parsed };
  return { rows, details: parsed };
}
