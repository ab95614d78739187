// The failure branches of issue 6 over real loopback sockets (same cases as test/lib/flow/branches-memory.test.ts).
import { describe, it } from "vitest";
import { runCalls } from "../../lib/flow/run-calls.js";
import { BRANCHES } from "../lib/flow/branch-cases.js";

describe("failure branches on the loopback socket driver", () => {
  for (const b of BRANCHES) {
    it(b.name, async () => {
      b.check(await runCalls({ driver: "net", ...b.options }));
    });
  }
});
