// The API reference (typedoc, `npm run docs:api`) documents every exported name: typedoc's validation runs
// over the package's entry points (one per package export) and any warning fails.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const TYPEDOC = join(process.cwd(), "node_modules", "typedoc", "bin", "typedoc");

/** typedoc's warnings, one line each: `undocumented NAME (Kind)`, `not exported NAME (file)`, or the warning itself. */
export function classify(output: string): string[] {
  const warnings = output
    .replace(/\x1b\[[0-9;]*m/g, "")
    .split("\n")
    .filter((l) => /^\[(warning|error)\] /.test(l) && !/^\[(warning|error)\] Found \d+ errors and \d+ warnings/.test(l));
  return warnings.map((l) => {
    const undocumented = /^\[(?:warning|error)\] (\S+) \((\w+)\), defined in callgate\/\S+, does not have any documentation$/.exec(l);
    if (undocumented) return `undocumented ${undocumented[1]} (${undocumented[2]})`;
    const notExported = /^\[(?:warning|error)\] (\S+), defined in callgate\/(\S+), is referenced by \S+ but not included in the documentation$/.exec(l);
    if (notExported) return `not exported ${notExported[1]} (${notExported[2]})`;
    return l;
  });
}

describe("API reference", () => {
  it("typedoc validates the entry points: every exported name documented, every type they use exported", () => {
    const run = spawnSync(process.execPath, [TYPEDOC, "--emit", "none"], { encoding: "utf8", timeout: 120_000 });
    const output = `${run.stdout}${run.stderr}`;
    // Validation warnings are errors (typedoc.json treatValidationWarningsAsErrors): either kind fails here.
    expect(classify(output), "exported names without TSDoc (add a short /** */ comment) or types the entry points use but do not export").toEqual([]);
    expect(run.status, output).toBe(0);
  });

  it("covers every package export", () => {
    const pkg = JSON.parse(readFileSync("package.json", "utf8")) as { exports: Record<string, { types?: string } | string> };
    const entryPoints = (JSON.parse(readFileSync("typedoc.json", "utf8")) as { entryPoints: string[] }).entryPoints;
    const exported = Object.values(pkg.exports)
      .flatMap((e) => (typeof e === "string" ? [] : e.types ? [e.types] : []))
      .map((types) => types.replace(/^\.\/dist\//, "").replace(/\.d\.ts$/, ".ts"))
      .sort();
    expect([...entryPoints].sort()).toEqual(exported);
  });

  it("reads typedoc's warnings", () => {
    const sample = [
      "\x1b[93m[warning]\x1b[0m lib.Foo (Interface), defined in callgate/lib/foo.ts, does not have any documentation",
      "[warning] Bar, defined in callgate/protocols/sip/bar.ts, is referenced by protocols/sip.Baz but not included in the documentation",
      "[warning] Failed to resolve link to \"Qux\" in comment for lib.Foo",
      "[error] Quux (Interface), defined in callgate/lib/quux.ts, does not have any documentation",
      "[error] Found 1 errors and 3 warnings",
    ].join("\n");
    expect(classify(sample)).toEqual([
      "undocumented lib.Foo (Interface)",
      "not exported Bar (protocols/sip/bar.ts)",
      '[warning] Failed to resolve link to "Qux" in comment for lib.Foo',
      "undocumented Quux (Interface)",
    ]);
  });
});
