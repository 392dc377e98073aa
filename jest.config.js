/** Jest runs the TypeScript sources directly; `npm test` type-checks and builds first (pretest). */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/tests'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { isolatedModules: true }],
  },
  testTimeout: 30000,
  maxWorkers: 2,
  // Each test file that starts a gateway in-process leaves about 8 MB behind in its worker: Node 20
  // keeps a finished file's vm context (measured with heap snapshots after a forced GC). A worker
  // past 400 MB is replaced between files; left to grow (0.3 to 0.75 GB by the end), its exit took
  // longer than Jest waits ("A worker process has failed to exit gracefully").
  workerIdleMemoryLimit: '400MB',
  reporters: ['default', '<rootDir>/tests/support/summary-reporter.js'],
};
