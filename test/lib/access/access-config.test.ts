// Configuration of the access commands: defaults, and refusals that name the setting and what was wrong.
import { describe, expect, it } from "vitest";
import { AccessConfigError, parseConcentratorConfig, parsePppoeServerConfig } from "../../../lib/access/access-config.js";

const refusal = (f: () => unknown): string => {
  try {
    f();
  } catch (err) {
    if (err instanceof AccessConfigError) return err.message;
    throw err;
  }
  return "accepted";
};

describe("access configuration", () => {
  it("a minimal server configuration gets its defaults", () => {
    const c = parsePppoeServerConfig({ framePort: { interface: "veth0" }, localAddress: "10.0.0.1", pool: { first: "10.0.0.2", last: "10.0.0.9" } });
    expect(c).toMatchObject({ acName: "callgate", auth: "pap", maxSessions: 4096, echoIntervalMs: 0, framePort: { interface: "veth0", bind: { address: "127.0.0.1", port: 0 } } });
  });

  it("refuses bad settings by name", () => {
    const base = { framePort: { interface: "veth0" }, localAddress: "10.0.0.1", pool: { first: "10.0.0.2", last: "10.0.0.9" } };
    expect(refusal(() => parsePppoeServerConfig({ ...base, auth: "eap" }))).toBe('auth: must be pap, chap or none, got "eap"');
    expect(refusal(() => parsePppoeServerConfig({ ...base, localAddress: "10.0.0.300" }))).toBe("localAddress: is not an IPv4 address: 10.0.0.300");
    expect(refusal(() => parsePppoeServerConfig({ ...base, framePort: { bridge: "127.0.0.1:9" } }))).toMatch(/^framePort: needs `interface`/);
    expect(refusal(() => parsePppoeServerConfig({ ...base, maxSessions: 70000 }))).toBe("maxSessions: must be an integer 1..65534, got 70000");
    expect(refusal(() => parseConcentratorConfig({ framePort: { interface: "veth0" } }))).toBe("mode: must be session-per-line or shared-session, got undefined");
    expect(refusal(() => parseConcentratorConfig({ mode: "shared-session", framePort: { interface: "veth0" } }))).toBe("shared: must be a mapping");
    expect(refusal(() => parseConcentratorConfig({ mode: "session-per-line", framePort: { interface: "veth0" }, radius: { secret: "s", acct: "nohost" } }))).toBe(
      "radius.acct: radius.acct wants HOST:PORT, got 'nohost'",
    );
    // Accounting records go through a spool on disk: without a file for it, accounting is refused.
    expect(refusal(() => parseConcentratorConfig({ mode: "session-per-line", framePort: { interface: "veth0" }, radius: { secret: "s", acct: "127.0.0.1:1813" } }))).toBe(
      "radius.acct: needs radius.acctSpool or journal (the accounting spool's file)",
    );
    const perLine = { mode: "session-per-line", framePort: { interface: "veth0" }, journal: "/var/lib/ac/journal" };
    expect(parseConcentratorConfig({ ...perLine, radius: { secret: "s", acct: "127.0.0.1:1813" } }).radius?.acctSpool).toBe("/var/lib/ac/journal.acct");
    expect(parseConcentratorConfig({ ...perLine, radius: { secret: "s", acct: "127.0.0.1:1813", acctSpool: "/var/spool/ac" } }).radius?.acctSpool).toBe("/var/spool/ac");
    // A list of accounting servers: the exporter fails over in this order.
    expect(parseConcentratorConfig({ ...perLine, radius: { secret: "s", acct: ["127.0.0.1:1813", "127.0.0.2:1813"] } }).radius?.acct).toEqual([
      { address: "127.0.0.1", port: 1813 },
      { address: "127.0.0.2", port: 1813 },
    ]);
    expect(refusal(() => parseConcentratorConfig({ ...perLine, radius: { secret: "s", acct: ["127.0.0.1:1813", "x"] } }))).toMatch(/^radius\.acct\[1\]: /);
    expect(refusal(() => parseConcentratorConfig({ ...perLine, radius: { secret: "s", acct: [] } }))).toBe("radius.acct: names no server");
    expect(refusal(() => parseConcentratorConfig({ mode: "session-per-line", framePort: { interface: "veth0" }, lines: { maxFrameBytes: 10 } }))).toBe(
      "lines.maxFrameBytes: must be an integer 64..65535, got 10",
    );
  });
});
