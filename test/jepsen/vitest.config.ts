import { defineProject } from 'vitest/config';

export default defineProject({
  resolve: { conditions: ['@cpgkit/source'] },
  ssr: { resolve: { conditions: ['@cpgkit/source'], externalConditions: ['@cpgkit/source'] } },
  test: { name: 'jepsen', include: ['**/*.test.ts'], exclude: ['**/node_modules/**'] },
});
