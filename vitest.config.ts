import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: ['packages/*', 'test/*', 'examples/*'],
    sequence: { seed: 20261125 },
  },
});
