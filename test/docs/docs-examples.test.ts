// The docs say what the package does: every ```ts block of README.md and docs/**/*.md compiles (strict,
// nodenext) against the built package as a user installs it, every ```console block runs through the built
// CLI and prints what it shows, and no doc names a file users do not have.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { BUILT_CLI } from "../support/cli-process.js";

const root = process.cwd();

function markdownFiles(): string[] {
  const docs = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? docs(join(dir, e.name)) : e.name.endsWith(".md") ? [join(dir, e.name)] : []));
  return [join(root, "README.md"), ...docs(join(root, "docs"))].map((f) => relative(root, f));
}

interface Block {
  file: string;
  line: number;
  lang: string;
  text: string;
}

function blocks(file: string): Block[] {
  const lines = readFileSync(join(root, file), "utf8").split("\n");
  const out: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\S*)\s*$/.exec(lines[i] ?? "");
    if (!open) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !/^```\s*$/.test(lines[i] ?? ""); i++) body.push(lines[i] ?? "");
    out.push({ file, line: start + 1, lang: open[1] ?? "", text: body.join("\n") });
  }
  return out;
}

const all = markdownFiles().flatMap(blocks);
const work = mkdtempSync(join(tmpdir(), "callgate-docs-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("docs", () => {
  it("name no file outside the package (../shared is the project's, not the user's)", () => {
    const offenders = markdownFiles().filter((f) => /\.\.\/shared\b/.test(readFileSync(join(root, f), "utf8")));
    expect(offenders, "these docs name ../shared paths users do not have").toEqual([]);
  });

  it("every ```ts block compiles against the built package (strict, nodenext)", () => {
    expect(existsSync(join(root, "dist", "lib", "index.d.ts")), "build first: npm run build").toBe(true);
    const project = join(work, "consumer");
    mkdirSync(join(project, "node_modules", "@types"), { recursive: true });
    symlinkSync(root, join(project, "node_modules", "callgate"), "dir");
    symlinkSync(join(root, "node_modules", "@types", "node"), join(project, "node_modules", "@types", "node"), "dir");
    // npm installs the package's dependencies beside it, so a doc may import them too (yaml, pino, ...).
    const dependencies = Object.keys((JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { dependencies?: Record<string, string> }).dependencies ?? {});
    for (const dep of dependencies) {
      mkdirSync(join(project, "node_modules", dep, ".."), { recursive: true });
      symlinkSync(join(root, "node_modules", dep), join(project, "node_modules", dep), "dir");
    }
    writeFileSync(join(project, "package.json"), JSON.stringify({ name: "docs-examples", type: "module", private: true }));
    const ts = all.filter((b) => b.lang === "ts" || b.lang === "typescript");
    expect(ts.length).toBeGreaterThan(5);
    const names = ts.map((b, i) => {
      const name = `${String(i).padStart(2, "0")}-${b.file.replace(/[/.]/g, "_")}-L${b.line}.ts`;
      // export {}: a block without imports is a module too (top-level await)
      writeFileSync(join(project, name), `${b.text}\nexport {};\n`);
      return name;
    });
    writeFileSync(
      join(project, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: { strict: true, module: "nodenext", moduleResolution: "nodenext", target: "es2022", lib: ["es2023"], types: ["node"], noEmit: true, skipLibCheck: true, noUncheckedIndexedAccess: true },
        files: names,
      }),
    );
    const tsc = spawnSync(process.execPath, [join(root, "node_modules", "typescript", "bin", "tsc"), "-p", project], { encoding: "utf8", timeout: 120_000 });
    // Each error names the doc and the line in it.
    const located = `${tsc.stdout}${tsc.stderr}`.replace(/^[^\n]*?(\d\d)-[^(/\n]+\.ts\((\d+),(\d+)\)/gm, (_m, index: string, line: string, col: string) => {
      const b = ts[Number(index)] as Block;
      return `${b.file}:${b.line + Number(line)}:${col}`;
    });
    expect(located, "doc code blocks that do not compile").toBe("");
    expect(tsc.status).toBe(0);
  });

  const consoles = all.filter((b) => b.lang === "console");
  it.each(consoles.map((b) => [`${b.file}:${b.line}`, b] as const))("console example %s prints what it shows", (_where, block) => {
    expect(existsSync(BUILT_CLI), "build first: npm run build").toBe(true);
    const cwd = mkdtempSync(join(work, "run-"));
    for (const dir of ["scenarios", "examples"]) symlinkSync(join(root, dir), join(cwd, dir), "dir");
    for (const { command, expected, status } of consoleSteps(block.text)) {
      const args = splitArgs(command);
      expect(args[0], `${block.file}:${block.line}: console examples run callgate only`).toBe("callgate");
      const run = spawnSync(process.execPath, [BUILT_CLI, ...args.slice(1)], { cwd, encoding: "utf8", timeout: 120_000, env: { ...process.env, NO_COLOR: "1" } });
      const printed = `${run.stdout}${run.stderr}`.replace(/\n$/, "");
      expect(run.status, `${block.file}:${block.line}: $ ${command}\n${printed}`).toBe(status);
      expect(matchesShown(printed.split("\n"), expected), `${block.file}:${block.line}: $ ${command}\n--- shown:\n${expected.join("\n")}\n--- printed:\n${printed}`).toBe(true);
    }
  });
});

/** `$ command` lines, each with the output lines shown below it and an optional last `(exit status N)`. */
function consoleSteps(text: string): Array<{ command: string; expected: string[]; status: number }> {
  const steps: Array<{ command: string; expected: string[]; status: number }> = [];
  for (const line of text.split("\n")) {
    if (line.startsWith("$ ")) steps.push({ command: line.slice(2), expected: [], status: 0 });
    else {
      const step = steps.at(-1);
      if (!step) throw new Error(`console block starts with output, not a $ command: '${line}'`);
      const exit = /^\(exit status (\d+)\)$/.exec(line);
      if (exit) step.status = Number(exit[1]);
      else step.expected.push(line);
    }
  }
  return steps;
}

function splitArgs(command: string): string[] {
  return [...command.matchAll(/"([^"]*)"|'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2] ?? m[3] ?? "");
}

/** Printed lines against shown lines: a shown `...` line stands for any lines, `...` inside a line for any text. */
export function matchesShown(printed: string[], shown: string[]): boolean {
  const lineMatches = (p: string, s: string): boolean =>
    s.includes("...") ? new RegExp(`^${s.split("...").map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`).test(p) : p === s;
  const match = (i: number, j: number): boolean => {
    if (j === shown.length) return i === printed.length;
    if (shown[j] === "...") {
      for (let k = i; k <= printed.length; k++) if (match(k, j + 1)) return true;
      return false;
    }
    return i < printed.length && lineMatches(printed[i] as string, shown[j] as string) && match(i + 1, j + 1);
  };
  return match(0, 0);
}

describe("console example matching", () => {
  it("literal lines, '...' lines and '...' inside a line", () => {
    expect(matchesShown(["a", "b 12 ms", "c", "d"], ["a", "b ... ms", "...", "d"])).toBe(true);
    expect(matchesShown(["a", "x"], ["a", "b"])).toBe(false);
    expect(matchesShown(["a"], ["a", "b"])).toBe(false);
    expect(matchesShown(["a", "b"], ["a"])).toBe(false);
  });
});
