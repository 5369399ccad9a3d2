/**
 * @cpgkit/core/testing: the in-memory cluster (the embedded default transport) and helpers
 * for applications' own tests.
 * @module
 */
export {};
