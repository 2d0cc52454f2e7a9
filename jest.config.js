/**
 * Jest runs the TypeScript sources through ts-jest, one file at a time without type information
 * (fast); the type check of sources and tests together is `npm run typecheck`, which `npm test`
 * runs before jest, so a test that does not type-check fails the run.
 * Lanes: tests/unit (pure TypeScript), tests/native (small native calls), tests/e2e (training,
 * the shared trained pipeline, CLIs, the packed tarball). `npm run test:unit` runs the first two.
 */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/tests'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.test.json' }],
  },
  testTimeout: 120000,
  globalSetup: '<rootDir>/tests/global-setup.ts',
  globalTeardown: '<rootDir>/tests/global-teardown.ts',
  // Native LibTorch work is CPU-bound on 2 cores: run test files one after another so timings and memory stay sane.
  maxWorkers: 1,
};
