// Every command explains itself: `--help` prints its usage on stdout and exits 0, `--version` prints the
// package's version, and docs/cli.md has a section for it. Commands are discovered from lib/cli/commands/,
// so a new command is held to the same (run from the built CLI: `npm run build` first).
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { VERSION } from "../../../lib/index.js";
import { BUILT_CLI } from "../../support/cli-process.js";

const commands = readdirSync(join("lib", "cli", "commands"))
  .filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts"))
  .map((f) => f.slice(0, -3))
  .sort();
const version = (JSON.parse(readFileSync("package.json", "utf8")) as { version: string }).version;
const cliDoc = readFileSync(join("docs", "cli.md"), "utf8");

function callgate(...args: string[]) {
  const run = spawnSync(process.execPath, [BUILT_CLI, ...args], { encoding: "utf8", timeout: 60_000, env: { ...process.env, NO_COLOR: "1" } });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

describe("callgate", () => {
  it("is built, with every command of the sources", () => {
    expect(existsSync(BUILT_CLI), "npm run build first").toBe(true);
    const built = readdirSync(join("dist", "lib", "cli", "commands")).filter((f) => f.endsWith(".js")).map((f) => f.slice(0, -3));
    expect(built, "dist/ lacks commands of lib/cli/commands/: npm run build").toEqual(expect.arrayContaining(commands));
  });

  it("--help lists every command and exits 0; no command is a usage error (exit 2, on stderr)", () => {
    const help = callgate("--help");
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/^usage: callgate <command> \[options\]/);
    for (const c of commands) expect(help.stdout, `callgate --help does not list ${c}`).toMatch(new RegExp(`^  ${c}\\b`, "m"));
    const none = callgate();
    expect(none.status).toBe(2);
    expect(none.stdout).toBe("");
    expect(none.stderr).toContain("callgate: no command given");
    const unknown = callgate("frobnicate");
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain("callgate: unknown command 'frobnicate'");
  });

  it("--version and -V print the package's version, the one the library exports too", () => {
    expect(VERSION).toBe(version);
    for (const flag of ["--version", "-V"]) expect(callgate(flag)).toEqual({ status: 0, stdout: `callgate ${version}\n`, stderr: "" });
  });
});

describe.each(commands)("callgate %s", (command) => {
  it("--help prints its usage on stdout and exits 0", () => {
    const r = callgate(command, "--help");
    expect(r.stderr, `callgate ${command} --help wrote to stderr`).toBe("");
    expect(r.status, `callgate ${command} --help exit status`).toBe(0);
    expect(r.stdout, `callgate ${command} --help prints no usage line`).toMatch(new RegExp(`^usage: callgate ${command}\\b`));
  });

  it("--version prints the package's version", () => {
    expect(callgate(command, "--version")).toEqual({ status: 0, stdout: `callgate ${version}\n`, stderr: "" });
  });

  it("has its section in docs/cli.md", () => {
    expect(cliDoc, `docs/cli.md has no section '## callgate ${command}' for lib/cli/commands/${command}.ts: document it (usage, options, exit status, an example)`).toContain(`\n## callgate ${command}\n`);
  });
});
