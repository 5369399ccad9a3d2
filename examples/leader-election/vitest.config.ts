import { defineProject } from 'vitest/config';

export default defineProject({
  resolve: { conditions: ['@cpgkit/source'] },
  ssr: { resolve: { conditions: ['@cpgkit/source'], externalConditions: ['@cpgkit/source'] } },
  test: { name: 'example-leader-election', include: ['test/**/*.test.ts'], testTimeout: 60_000 },
});
