// Runs the GigE Vision contract inside a private network namespace (see test/camera/genicam-gige.test.ts): only
// loopback exists there, so Aravis' discovery and the fake camera's traffic cannot leave the machine.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  root: path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..'),
  test: {
    include: ['test/camera/netns/*.netns.ts'],
    pool: 'forks',
    maxWorkers: 1,
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
