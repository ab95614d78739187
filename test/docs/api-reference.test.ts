// The API reference (typedoc, `npm run docs:api`) documents every exported name: typedoc's validation runs
// over the package's entry points and any warning fails, except the known gaps listed in
// api-reference-debt.txt, which may only shrink (a listed name that is documented now must leave the list).
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const TYPEDOC = join(process.cwd(), "node_modules", "typedoc", "bin", "typedoc");
const DEBT_FILE = join("test", "docs", "api-reference-debt.txt");

/** typedoc's warnings as the lines of the debt file: `undocumented NAME (Kind)`, `not exported NAME (file)`, or the warning itself. */
export function classify(output: string): string[] {
  const warnings = output
    .replace(/\x1b\[[0-9;]*m/g, "")
    .split("\n")
    .filter((l) => l.startsWith("[warning]") && !/^\[warning\] Found \d+ errors and \d+ warnings/.test(l));
  return warnings.map((l) => {
    const undocumented = /^\[warning\] (\S+) \((\w+)\), defined in callgate\/\S+, does not have any documentation$/.exec(l);
    if (undocumented) return `undocumented ${undocumented[1]} (${undocumented[2]})`;
    const notExported = /^\[warning\] (\S+), defined in callgate\/(\S+), is referenced by \S+ but not included in the documentation$/.exec(l);
    if (notExported) return `not exported ${notExported[1]} (${notExported[2]})`;
    return l;
  });
}

describe("API reference", () => {
  it("typedoc validates the entry points: every exported name documented, except the listed debt, which only shrinks", () => {
    const run = spawnSync(process.execPath, [TYPEDOC, "--emit", "none"], { encoding: "utf8", timeout: 120_000 });
    const output = `${run.stdout}${run.stderr}`;
    expect(output, "typedoc reported errors").not.toMatch(/\[error\]/);
    const found = new Set(classify(output));
    const debt = new Set(readFileSync(DEBT_FILE, "utf8").split("\n").filter((l) => l !== "" && !l.startsWith("#")));
    const added = [...found].filter((w) => !debt.has(w)).sort();
    const paid = [...debt].filter((w) => !found.has(w)).sort();
    expect(added, "new exported names without TSDoc (add a short /** */ comment) or types the entry points use but do not export").toEqual([]);
    expect(paid, `documented or exported now: remove these lines from ${DEBT_FILE}`).toEqual([]);
  });

  it("reads typedoc's warnings", () => {
    const sample = [
      "\x1b[93m[warning]\x1b[0m lib.Foo (Interface), defined in callgate/lib/foo.ts, does not have any documentation",
      "[warning] Bar, defined in callgate/protocols/sip/bar.ts, is referenced by protocols/sip.Baz but not included in the documentation",
      "[warning] Failed to resolve link to \"Qux\" in comment for lib.Foo",
      "[warning] Found 0 errors and 3 warnings",
    ].join("\n");
    expect(classify(sample)).toEqual([
      "undocumented lib.Foo (Interface)",
      "not exported Bar (protocols/sip/bar.ts)",
      '[warning] Failed to resolve link to "Qux" in comment for lib.Foo',
    ]);
  });
});
