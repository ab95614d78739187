import { defineConfig } from "vitest/config";

// Interop tests against real peers (SIPp, tshark, kamailio, freeradius) installed by .ci/run.
export default defineConfig({
  test: {
    include: ["test/interop/**/*.test.ts"],
    testTimeout: 300_000,
    hookTimeout: 120_000,
    globalSetup: ["test/support/native-test-deps.ts"],
    setupFiles: ["test/support/fast-check-seed.ts"],
    pool: "forks",
    poolOptions: { forks: { singleFork: true } },
    fileParallelism: false,
  },
});
