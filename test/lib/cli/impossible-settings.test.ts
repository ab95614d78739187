// Impossible settings are refused at start, with a message naming the setting and exit code 2 (issue 12).
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { run as clearinghouse } from "../../../lib/cli/commands/clearinghouse.js";
import { run as lab } from "../../../lib/cli/commands/lab.js";
import { run as proxy } from "../../../lib/cli/commands/proxy.js";
import { run as serve } from "../../../lib/cli/commands/serve.js";
import { DeployConfigError, parseDeployConfig } from "../../../lib/flow/deploy-config.js";

let errors: string[] = [];
beforeEach(() => {
  errors = [];
  vi.spyOn(console, "error").mockImplementation((...a: unknown[]) => void errors.push(a.map(String).join(" ")));
  vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => {
    errors.push(String(chunk));
    return true;
  });
});
afterEach(() => vi.restoreAllMocks());

/** The command's exit code and the first line it wrote to stderr. */
async function refused(command: (args: string[]) => Promise<number>, args: string[]): Promise<{ code: number; message: string }> {
  const code = await command(args);
  return { code, message: errors.join("").split("\n")[0] ?? "" };
}

describe("callgate proxy", () => {
  it("refuses a next hop no listener can reach (every call would get 500)", async () => {
    expect(await refused(proxy, ["--listen", "tcp:127.0.0.1:5060", "--next-hop", "udp:127.0.0.1:5070"])).toEqual({
      code: 2,
      message: "--next-hop udp:127.0.0.1:5070 needs a udp listener (--listen udp:HOST:PORT): without one every call would be answered 500",
    });
  });

  it("refuses a port out of range, its own address as next hop, a listener given twice", async () => {
    expect(await refused(proxy, ["--listen", "udp:127.0.0.1:70000", "--next-hop", "udp:127.0.0.1:5070"])).toEqual({ code: 2, message: "port out of range in 'udp:127.0.0.1:70000'" });
    errors = [];
    expect(await refused(proxy, ["--listen", "udp:127.0.0.1:5060", "--next-hop", "udp:127.0.0.1:5060"])).toEqual({
      code: 2,
      message: "--next-hop udp:127.0.0.1:5060 is this proxy's own --listen address: every request would loop",
    });
    errors = [];
    expect(await refused(proxy, ["--listen", "udp:127.0.0.1:5060", "--listen", "udp:127.0.0.1:5060", "--next-hop", "udp:127.0.0.1:5070"])).toEqual({
      code: 2,
      message: "--listen udp:127.0.0.1:5060 is given twice",
    });
  });

  it("refuses metrics on a SIP address, an unknown log level, a stats interval that is not a number", async () => {
    expect(await refused(proxy, ["--listen", "tcp:127.0.0.1:5060", "--next-hop", "tcp:127.0.0.1:5070", "--metrics", "127.0.0.1:5060"])).toEqual({
      code: 2,
      message: "--metrics 127.0.0.1:5060 is the SIP address --listen tcp:127.0.0.1:5060: give the metrics their own port",
    });
    errors = [];
    expect(await refused(proxy, ["--listen", "udp:127.0.0.1:5060", "--next-hop", "udp:127.0.0.1:5070", "--log-level", "loud"])).toEqual({
      code: 2,
      message: "--log-level: unknown level 'loud' (levels: trace, debug, info, warn, error, fatal, silent)",
    });
    errors = [];
    expect((await refused(proxy, ["--listen", "udp:127.0.0.1:5060", "--next-hop", "udp:127.0.0.1:5070", "--stats-interval", "often"])).message).toBe("--stats-interval wants a number of seconds, got 'often'");
  });
});

describe("callgate lab", () => {
  it("refuses a port out of range, metrics on SIP1's port, an unknown log level, a bad --keep", async () => {
    expect(await refused(lab, ["--sip-port", "70000"])).toEqual({ code: 2, message: "callgate lab: --sip-port wants an integer from 1 to 65535, got '70000'" });
    errors = [];
    expect(await refused(lab, ["--sip-port", "5060", "--metrics", "127.0.0.1:5060"])).toEqual({
      code: 2,
      message: "callgate lab: --metrics 127.0.0.1:5060 is SIP1's address (--sip-port 5060): give the metrics their own port",
    });
    errors = [];
    expect(await refused(lab, ["--metrics", "127.0.0.1:99999"])).toEqual({ code: 2, message: "callgate lab: --metrics: port 99999 is out of range (0-65535)" });
    errors = [];
    expect(await refused(lab, ["--log-level", "chatty"])).toEqual({ code: 2, message: "callgate lab: --log-level: unknown level 'chatty' (levels: trace, debug, info, warn, error, fatal, silent)" });
    errors = [];
    expect(await refused(lab, ["--keep", "-1"])).toMatchObject({ code: 2 });
  });

  it("refuses --reinvites by the caller (outside the lab), or not as a deploy file's calls.reinvites", async () => {
    expect(await refused(lab, ["--reinvites", "[{by: caller, afterMs: 500, hold: true}]"])).toEqual({
      code: 2,
      message: "callgate lab: --reinvites: entry 0 is by: caller, but the lab's caller is outside it (by: callee only)",
    });
    errors = [];
    expect(await refused(lab, ["--reinvites", "[{by: callee, afterMs: 0, hold: true}]"])).toEqual({ code: 2, message: "callgate lab: --reinvites: /0/afterMs must be > 0" });
    errors = [];
    expect(await refused(lab, ["--reinvites", "[{by: callee, afterMs: 500, hold: true, codec: opus}]"])).toEqual({ code: 2, message: "callgate lab: --reinvites: /0/codec must be equal to one of the allowed values" });
    errors = [];
    expect(await refused(lab, ["--reinvites", "[{by: callee"])).toMatchObject({ code: 2, message: expect.stringMatching(/^callgate lab: --reinvites is not YAML: /) });
  });
});

describe("callgate clearinghouse", () => {
  it("refuses metrics on the OSP address and an unknown log level", async () => {
    const dir = mkdtempSync(join(tmpdir(), "callgate-settings-"));
    const routes = join(dir, "routes.yaml");
    writeFileSync(routes, "routes: []\n");
    expect(await refused(clearinghouse, ["--listen", "http://127.0.0.1:5045/osp", "--routes", routes, "--memory", "--metrics", "127.0.0.1:5045"])).toEqual({
      code: 2,
      message: "callgate clearinghouse: --metrics 127.0.0.1:5045 is the OSP address --listen http://127.0.0.1:5045/osp: give the metrics their own port",
    });
    errors = [];
    expect((await refused(clearinghouse, ["--routes", routes, "--memory", "--log-level", "loud"])).message).toBe(
      "callgate clearinghouse: --log-level: unknown level 'loud' (levels: trace, debug, info, warn, error, fatal, silent)",
    );
  });
});

describe("callgate serve and its deployment file", () => {
  const roles = (sip1: string): string =>
    ["roles:", `  SIP1: { host: 127.0.0.1, sip: { udp: 5060 }${sip1} }`, "  UAC: { host: 127.0.0.1, sip: { udp: 5062 } }", "  POL1: { host: 127.0.0.1, cops: 3288 }", "  SIP2: { host: 127.0.0.1, sip: { udp: 5070 } }"].join("\n");

  it("takes a per-role metrics port and log level", () => {
    const config = parseDeployConfig(roles(", metrics: 9464, log: warn"), "deploy.yaml");
    expect(config.roles.SIP1).toMatchObject({ metrics: 9464, log: "warn" });
  });

  it("refuses a metrics port that is one of the role's listeners, an unknown log level", () => {
    const problem = (text: string): string => {
      try {
        parseDeployConfig(text, "deploy.yaml");
      } catch (err) {
        if (err instanceof DeployConfigError) return err.message;
        throw err;
      }
      return "accepted";
    };
    expect(problem(roles(", metrics: 5060"))).toContain("roles.SIP1.metrics: 5060 is SIP1's SIP port (sip.udp): give the metrics their own port");
    // Another role's listener on the same host and port: named where the second one is declared.
    expect(problem(roles(", metrics: 3288"))).toContain("roles.POL1.cops: tcp 127.0.0.1:3288 is already SIP1.metrics's");
    expect(problem(roles(", log: loud"))).toMatch(/roles\.SIP1\.log/);
  });

  it("refuses --metrics on the role's own address and an unknown --log-level", async () => {
    const dir = mkdtempSync(join(tmpdir(), "callgate-settings-"));
    const file = join(dir, "deploy.yaml");
    writeFileSync(file, `${roles("")}\n`);
    expect(await refused(serve, ["SIP1", "--config", file, "--metrics", "127.0.0.1:5060"])).toEqual({
      code: 2,
      message: `callgate serve: --metrics 127.0.0.1:5060 is one of SIP1's own addresses in ${file}: give the metrics their own port`,
    });
    errors = [];
    expect(await refused(serve, ["SIP1", "--config", file, "--log-level", "loud"])).toEqual({
      code: 2,
      message: "callgate serve: --log-level: unknown level 'loud' (levels: trace, debug, info, warn, error, fatal, silent)",
    });
  });
});
