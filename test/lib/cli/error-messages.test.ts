// Errors say what was wrong: a file that cannot be read is named with the reason in words, a YAML file of the
// wrong kind or with a mistake is named at FILE:LINE:COLUMN, and a read-only query never creates its file.
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { run as clearinghouse } from "../../../lib/cli/commands/clearinghouse.js";
import { run as load } from "../../../lib/cli/commands/load.js";
import { run as parse } from "../../../lib/cli/commands/parse.js";
import { run as replay } from "../../../lib/cli/commands/replay.js";
import { run as serve } from "../../../lib/cli/commands/serve.js";

const dir = mkdtempSync(join(tmpdir(), "callgate-errors-"));
const missing = join(dir, "missing");

let stderr = "";
let stdout = "";
beforeEach(() => {
  stderr = "";
  stdout = "";
  vi.spyOn(console, "error").mockImplementation((...a: unknown[]) => void (stderr += `${a.map(String).join(" ")}\n`));
  vi.spyOn(console, "log").mockImplementation((...a: unknown[]) => void (stdout += `${a.map(String).join(" ")}\n`));
  vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  });
  vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
    stdout += String(chunk);
    return true;
  });
});
afterEach(() => vi.restoreAllMocks());

const firstLine = (): string => stderr.split("\n")[0] ?? "";

describe("a file that cannot be read is named, with the reason in words", () => {
  it.each([
    ["replay", replay, [`${missing}.yaml`], `callgate replay: cannot read ${missing}.yaml: no such file`],
    ["replay --trace", replay, ["--trace", `${missing}.trace`], `callgate replay: cannot read ${missing}.trace: no such file`],
    ["load", load, ["--scenario", `${missing}.yaml`, "--calls", "1", "--rate", "1"], `callgate load: cannot read ${missing}.yaml: no such file`],
    ["parse", parse, [`${missing}.sip`], `callgate parse: cannot read ${missing}.sip: no such file`],
    ["serve", serve, ["SIP1", "--config", `${missing}.yaml`], `callgate serve: cannot read ${missing}.yaml: no such file`],
    ["clearinghouse --routes", clearinghouse, ["--routes", `${missing}.yaml`, "--memory"], `callgate clearinghouse: cannot read ${missing}.yaml: no such file`],
    ["replay of a directory", replay, [dir], `callgate replay: cannot read ${dir}: is a directory`],
  ] as const)("%s", async (_name, command, args, message) => {
    expect(await command([...args])).toBe(2);
    expect(firstLine()).toBe(message);
    expect(stderr).not.toMatch(/ENOENT|EISDIR/);
  });

  it("serve merge names the record file it cannot read", async () => {
    expect(await serve(["merge", `${missing}.jsonl`])).toBe(1);
    expect(firstLine()).toBe(`callgate serve merge: cannot read ${missing}.jsonl: no such file`);
  });

  it("clearinghouse cdrs --db refuses a missing database and does not create it", async () => {
    const db = join(dir, "nope.sqlite");
    expect(await clearinghouse(["cdrs", "--db", db])).toBe(2);
    expect(firstLine()).toBe(`callgate clearinghouse: cannot read ${db}: no such file`);
    expect(existsSync(db)).toBe(false);
    expect(stdout).toBe("");
  });

  it("clearinghouse cdrs --db refuses a file that is not a CDR database", async () => {
    const junk = join(dir, "junk.sqlite");
    writeFileSync(junk, "not sqlite at all\n");
    expect(await clearinghouse(["cdrs", "--db", junk])).toBe(2);
    expect(firstLine()).toBe(`callgate clearinghouse: ${junk}: not a CDR database (file is not a database)`);
  });
});

describe("a YAML file of the wrong kind or with a mistake is named at its line", () => {
  it("replay refuses a deployment file and a routes file as not a scenario", async () => {
    const deploy = join(dir, "deploy.yaml");
    writeFileSync(deploy, "name: lab\nroles:\n  SIP1: { host: 127.0.0.1, sip: { udp: 5060 } }\ncalls: { count: 1 }\n");
    expect(await replay([deploy])).toBe(2);
    expect(firstLine()).toBe(`${deploy}: not a scenario: it is a deployment file (callgate serve --config reads it)`);
    stderr = "";
    const routes = join(dir, "routes.yaml");
    writeFileSync(routes, "routes:\n  - prefix: '1'\n    destinations: [127.0.0.1:5060]\n");
    expect(await replay([routes])).toBe(2);
    expect(firstLine()).toBe(`${routes}: not a scenario: it is a clearinghouse routes file (callgate clearinghouse --routes reads it)`);
    stderr = "";
    const list = join(dir, "list.yaml");
    writeFileSync(list, "- a\n- b\n");
    expect(await replay([list])).toBe(2);
    expect(firstLine()).toBe(`${list}: not a scenario: a scenario is a YAML mapping with name and calls (docs/scenarios.md)`);
  });

  it("a scenario's YAML syntax error and a wrong field carry FILE:LINE:COLUMN", async () => {
    const broken = join(dir, "broken.yaml");
    writeFileSync(broken, "name: x\ncalls:\n  - caller: sip:a@example.com\n    callee: [unclosed\n");
    expect(await replay([broken])).toBe(2);
    expect(firstLine()).toMatch(new RegExp(`^${broken.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:\\d+:\\d+: YAML: `));
    stderr = "";
    const wrong = join(dir, "wrong.yaml");
    writeFileSync(wrong, "name: x\ncalls:\n  - caller: sip:a@example.com\n    callee: sip:b@example.com\n    outcome: maybe\n");
    expect(await replay([wrong])).toBe(2);
    expect(firstLine()).toMatch(new RegExp(`^${wrong.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:5:\\d+: calls\\[0\\]\\.outcome: must be one of`));
  });

  it("a routes file's mistake names the line of the route, its syntax error the line of the error", async () => {
    const routes = join(dir, "bad-routes.yaml");
    writeFileSync(routes, "routes:\n  - prefix: '1'\n    destinations: [127.0.0.1:5060]\n  - prefix: '2'\n    destinations: []\n");
    expect(await clearinghouse(["--routes", routes, "--memory"])).toBe(2);
    expect(firstLine()).toBe(`callgate clearinghouse: ${routes}:4:5: routes[1]: 'destinations' must be a non-empty list`);
    expect(stderr).not.toContain("usage:");
    stderr = "";
    const syntax = join(dir, "syntax-routes.yaml");
    writeFileSync(syntax, "routes:\n  - prefix: '1\n");
    expect(await clearinghouse(["--routes", syntax, "--memory"])).toBe(2);
    expect(firstLine()).toMatch(new RegExp(`^callgate clearinghouse: ${syntax.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:\\d+:\\d+: YAML: `));
  });
});

describe("usage errors give the reason before the usage", () => {
  it("parse without a file, with two files, with an unknown option", async () => {
    expect(await parse([])).toBe(2);
    expect(firstLine()).toBe("callgate parse: no FILE given");
    stderr = "";
    expect(await parse(["a.sip", "b.sip"])).toBe(2);
    expect(firstLine()).toBe("callgate parse: one FILE at a time (given: a.sip, b.sip)");
    stderr = "";
    expect(await parse(["--datagram", "a.sip"])).toBe(2);
    expect(firstLine()).toBe("callgate parse: unknown option '--datagram'");
  });

  it("replay without a scenario or with two", async () => {
    expect(await replay([])).toBe(2);
    expect(firstLine()).toBe("callgate replay: no scenario file given (or --trace TRACE)");
    stderr = "";
    expect(await replay(["a.yaml", "b.yaml"])).toBe(2);
    expect(firstLine()).toBe("callgate replay: one scenario file at a time (given: a.yaml, b.yaml)");
  });
});

describe("a failed expectation names the message that differs", () => {
  it("a wrong final status points at the 200 answering the INVITE, not the 200 answering the BYE", async () => {
    const scenario = join(dir, "expects-busy.yaml");
    writeFileSync(
      scenario,
      "name: expects-busy\ncalls:\n  - id: c1\n    caller: sip:alice@example.com\n    callee: sip:bob@example.com\n    answerDelayMs: 500\n    durationMs: 2000\n    hangUp: caller\n    expect: { finalStatus: 486 }\n",
    );
    expect(await replay([scenario])).toBe(1);
    expect(stdout).toContain("c1: finalStatus: final status at the caller 200, expected 486");
    expect(stdout).toMatch(/first diverging message: #\d+ t=\d+\.\d+s SIP SIP1 → UAC 200 OK \(to INVITE\)/);
    expect(stdout).not.toContain("(to BYE)");
  });
});
