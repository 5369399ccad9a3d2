import { describe } from 'vitest';
import { conformanceSuite } from './src/suite.js';
import { MemoryFixture } from './src/memory-fixture.js';

describe('in-memory cluster', () => {
  conformanceSuite(() => Promise.resolve(new MemoryFixture({ seed: 20261125 })), {
    timeoutMs: 60_000,
  });
});

describe('in-memory cluster, other seeds', () => {
  for (const seed of [1, 2, 3]) {
    describe(`seed ${seed}`, () => {
      conformanceSuite(() => Promise.resolve(new MemoryFixture({ seed })), { timeoutMs: 60_000 });
    });
  }
});
