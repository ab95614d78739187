// The runnable examples in examples/: each type-checks (strict, nodenext) and prints what its comments promise.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const TSX = join(process.cwd(), "node_modules", "tsx", "dist", "cli.mjs");

function runExample(name: string): string {
  const res = spawnSync(process.execPath, [TSX, join("examples", name)], { encoding: "utf8", timeout: 60_000 });
  expect(res.status, `${name}: ${res.stderr}`).toBe(0);
  return res.stdout;
}

describe("examples/", () => {
  it("type-check with the project's compiler settings", () => {
    const res = spawnSync(process.execPath, [join("node_modules", "typescript", "bin", "tsc"), "-p", join("examples", "tsconfig.json")], { encoding: "utf8", timeout: 120_000 });
    expect(res.status, res.stdout + res.stderr).toBe(0);
  });

  it("custom-policy.ts: the premium-rate caller is refused by POL1 with 403, the two others connected and billed per side", () => {
    expect(runExample("custom-policy.ts").split("\n")).toEqual([
      "POL1 refused call-2@callgate.example.com: calling number +19005550100 is blocked",
      "sip:alice@example.com: connected",
      "sip:+19005550100@example.com: refused 403",
      "sip:carol@example.com: connected",
      "CDRs: 4",
      "",
    ]);
  });

  it("async-policy.ts: the remote authoriser is asked once per call, refuses mallory, alice's call is connected and billed", () => {
    expect(runExample("async-policy.ts").split("\n")).toEqual([
      "sip:alice@example.com: connected",
      "sip:mallory@example.com: refused 403",
      "authoriser asked 2 times, CDRs: 2",
      "",
    ]);
  });
});
