import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // config files, not folders: a stray file under examples/ must not break the run
    projects: [
      'packages/*/vitest.config.ts',
      'test/*/vitest.config.ts',
      'examples/*/vitest.config.ts',
      'bench/vitest.config.ts',
    ],
    sequence: { seed: 20261125 },
  },
});
