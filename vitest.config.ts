import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    globalSetup: ['tests/support/build-cli.ts', 'tests/support/run-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Integration suites share one PostgreSQL server and one Redis; each test file makes its own
    // database / key prefix, so files may run in parallel, but two cores is all CI has.
    maxWorkers: 2,
    env: { YTDL_NO_UPDATE: '1', LOG_LEVEL: 'silent' },
    // expect.poll waits for something to happen, not for it to be fast: on a busy 2-core machine a
    // child process or a background read can take seconds, and 1 s (vitest's default) fails there.
    expect: { poll: { timeout: 30_000 } },
  },
});
