import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    // Hardware-in-the-loop style tests (pty pairs, brokers, worker threads, CLI child processes) do real I/O and real
    // inference: on a busy 2-core machine one can take minutes. The limits only end a hang; nothing asserts on timing.
    testTimeout: 300_000,
    hookTimeout: 300_000,
    pool: 'forks',
    maxWorkers: 2,
    reporters: ['default'],
  },
});
