import { describe, it } from "vitest";
import { runCalls } from "../../../lib/flow/run-calls.js";
import { BRANCHES } from "./branch-cases.js";

describe("failure branches on the in-memory driver", () => {
  for (const b of BRANCHES) {
    it(b.name, async () => {
      b.check(await runCalls({ driver: "memory", ...b.options }));
    });
  }
});
