/**
 * Paths the benchmark uses.
 * @module
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root. */
export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Where reports go: `bench/results/` (full runs, committed) or `bench/results/quick/` (ignored). */
export function resultsDir(quick: boolean): string {
  return join(repoRoot, 'bench', 'results', ...(quick ? ['quick'] : []));
}
