import { defineProject } from 'vitest/config';

/**
 * The real-corosync suites. One project, files run one after another (they share one cluster),
 * and a global setup that brings the 3-node cluster up (and down again, if it brought it up).
 */
export default defineProject({
  resolve: { conditions: ['@cpgkit/source'] },
  ssr: { resolve: { conditions: ['@cpgkit/source'], externalConditions: ['@cpgkit/source'] } },
  test: {
    name: 'cluster',
    include: ['**/*.test.ts'],
    exclude: ['**/node_modules/**'],
    globalSetup: ['./globalSetup.ts'],
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 180_000,
  },
});
