import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', '{coordinator,client-sdk,crypto,protocols,parallel}/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Integration tests start real coordinators and site processes; on a 2-core CI machine
    // two test files at a time keeps them inside their deadlines.
    pool: 'forks',
    maxWorkers: 2,
    reporters: process.env['CI'] ? ['default', ['json', { outputFile: '.tmp/vitest-report.json' }]] : ['default'],
  },
});
