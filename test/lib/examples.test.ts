// The runnable examples in examples/ and the policy example of docs/embedding.md: each type-checks (strict,
// nodenext) and prints what it promises.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
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

describe("docs/embedding.md, ## Your own policy", () => {
  it("its program type-checks, runs against the library and prints the output the guide shows", () => {
    const doc = readFileSync("docs/embedding.md", "utf8");
    const section = doc.slice(doc.indexOf("## Your own policy"));
    const program = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
    const output = /```text\n([\s\S]*?)```/.exec(section)?.[1];
    expect(program, "a ts block").toBeDefined();
    expect(output, "a text block").toBeDefined();
    const dir = mkdtempSync(join(tmpdir(), "callgate-doc-"));
    try {
      // Type-checked as a strict nodenext program, importing the library's sources in place of "callgate".
      const checked = join(dir, "checked.mts");
      writeFileSync(checked, (program ?? "").replace(`from "callgate"`, `from ${JSON.stringify(join(process.cwd(), "lib", "index.js"))}`));
      const tsc = spawnSync(
        process.execPath,
        [join("node_modules", "typescript", "bin", "tsc"), "--noEmit", "--strict", "--module", "nodenext", "--moduleResolution", "nodenext", "--target", "es2022", "--skipLibCheck", "--types", "node", "--typeRoots", join(process.cwd(), "node_modules", "@types"), checked],
        { encoding: "utf8", timeout: 120_000 },
      );
      expect(tsc.status, tsc.stdout + tsc.stderr).toBe(0);
      const file = join(dir, "your-own-policy.mts");
      writeFileSync(file, (program ?? "").replace(`from "callgate"`, `from ${JSON.stringify(pathToFileURL(join(process.cwd(), "lib", "index.ts")).href)}`));
      const res = spawnSync(process.execPath, [TSX, file], { encoding: "utf8", timeout: 60_000 });
      expect(res.status, res.stderr).toBe(0);
      expect(res.stdout).toBe(output);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
