import { defineProject } from 'vitest/config';

export default defineProject({
  resolve: { conditions: ['@cpgkit/source'] },
  ssr: { resolve: { conditions: ['@cpgkit/source'], externalConditions: ['@cpgkit/source'] } },
  // A hang guard, not a bound on the product (bounds are asserted inside the tests): the
  // property tests run a fixed number of cases, which took up to 11 s beside stress-ng --cpu 2
  // on 2 cores, past vitest's default of 5 s.
  test: {
    testTimeout: 60_000,
    name: 'statemachine',
    include: ['test/**/*.test.ts'],
    // disks that honour crashes (crash-disks.ts); CPGKIT_SLOW_DISKS=<maxMs>: every disk write
    // waits a random 0 to maxMs ms (slow-disks.ts)
    setupFiles: ['test/test-disks-setup.ts'],
  },
});
