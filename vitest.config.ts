import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    exclude: ["test/interop/**", "**/node_modules/**"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    globalSetup: ["test/support/native-test-deps.ts"],
    setupFiles: ["test/support/fast-check-seed.ts"],
    pool: "forks",
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
  },
});
