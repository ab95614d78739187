// The caller-authentication and realm-capacity scenarios replayed by `callgate replay` on both drivers: an
// authenticated FIG. 5/6 call (its challenge exchange before step 1, so check-ladder passes with the real labels),
// a refused caller, the N+1th call of a client realm refused 503, and accounting kept twice.
import { describe, expect, it } from "vitest";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseDigestCredentials } from "../../../protocols/sip/codec/digest.js";
import { parseSipMessage, type SipRequest } from "../../../protocols/sip/index.js";
import { runCheckLadderTool } from "../../../lib/replay/check-ladder-tool.js";
import { fromJsonLines } from "../../../lib/replay/ladder-json.js";
import { parseScenario, ScenarioError } from "../../../lib/replay/scenario.js";
import { replayInProcess } from "../../support/replay-in-process.js";

const dir = mkdtempSync(join(tmpdir(), "callgate-auth-scenarios-"));

const replay = (args: string[]) => replayInProcess(args);

const label = (r: { proto: string; from: string; to: string; msg: string }) => `${r.proto} ${r.from}>${r.to} ${r.msg}`;

describe("caller authentication and realm capacity scenarios", () => {
  for (const driver of ["memory", "net"] as const) {
    const net = driver === "net" ? ["--net"] : [];

    it(`${driver} driver: auth-fig5-fig6: 407, ACK and the INVITE again before step 1; the exported ladder passes check-ladder 28/28 and 18/18`, { timeout: 120_000 }, async () => {
      const out = join(dir, `auth-${driver}.jsonl`);
      const r = await replay([join("scenarios", "auth-fig5-fig6.yaml"), ...net, "--ladder-json", out]);
      expect(r.stderr).toBe("");
      expect(r.stdout).toMatch(/expectations: all \d+ hold/);
      expect(r.code).toBe(0);
      const base = out.replace(/\.jsonl$/, "");
      // the challenge exchange, kept apart with its own labels
      const challenge = fromJsonLines(readFileSync(`${base}.challenge.jsonl`, "utf8"));
      expect(challenge.filter((m) => m.msg !== "100 Trying").map(label)).toEqual(["SIP UAC>SIP1 INVITE", "SIP SIP1>UAC 407 Proxy Authentication Required", "SIP UAC>SIP1 ACK"]);
      const first = parseSipMessage(challenge[0]!.bytes) as SipRequest;
      expect(first.getHeader("Proxy-Authorization")).toBeUndefined();
      // FIG. 5's step 1 is the INVITE with credentials: SHA-256, the first the proxy offers (RFC 8760 §2.4)
      const setup = fromJsonLines(readFileSync(`${base}.setup.jsonl`, "utf8"));
      expect(label(setup[0]!)).toBe("SIP UAC>SIP1 INVITE");
      const step1 = parseSipMessage(setup[0]!.bytes) as SipRequest;
      expect(step1.cseq.seq).toBe(first.cseq.seq + 1);
      expect(step1.getHeader("Call-ID")).toBe(first.getHeader("Call-ID"));
      const credentials = parseDigestCredentials(step1.getHeader("Proxy-Authorization") ?? "");
      expect({ username: credentials.username, realm: credentials.realm, algorithm: credentials.algorithm, qop: credentials.qop, nc: credentials.nc }).toEqual({ username: "alice", realm: "sip1.example.com", algorithm: "SHA-256", qop: "auth", nc: "00000001" });
      expect(credentials.response).toMatch(/^[0-9a-f]{64}$/);
      for (const [flow, steps] of [["setup", 28], ["teardown", 18]] as const) {
        const verdict = runCheckLadderTool(`${base}.${flow}.jsonl`, flow);
        expect(verdict.output).toContain(`all ${steps} steps in causal order`);
        expect(verdict.ok).toBe(true);
      }
      // the password travels in no message: only the response computed from it
      const all = fromJsonLines(readFileSync(out, "utf8"));
      expect(all.length).toBeGreaterThan(40);
      expect(all.filter((m) => m.bytes.toString("latin1").includes("wonderland"))).toEqual([]);
    });

    it(`${driver} driver: auth-wrong-password: both callers refused 403 after the challenge, nothing reaches SIP2`, { timeout: 120_000 }, async () => {
      const out = join(dir, `wrong-${driver}.jsonl`);
      const r = await replay([join("scenarios", "auth-wrong-password.yaml"), ...net, "--ladder-json", out]);
      expect(r.stderr).toBe("");
      expect(r.stdout).toMatch(/0 established/);
      expect(r.stdout).toMatch(/expectations: all \d+ hold/);
      expect(r.code).toBe(0);
      const records = fromJsonLines(readFileSync(out, "utf8"));
      const toCaller = records.filter((m) => m.to === "UAC" && m.msg !== "100 Trying").map((m) => `${m.callId} ${m.msg}`);
      expect(toCaller.sort()).toEqual(["unknown-user 403 Forbidden", "unknown-user 407 Proxy Authentication Required", "wrong-password 403 Forbidden", "wrong-password 407 Proxy Authentication Required"]);
      expect(records.filter((m) => m.msg === "REQ AAA" && m.from === "SIP1")).toHaveLength(2);
      expect(records.some((m) => m.from === "SIP1" && m.to === "SIP2")).toBe(false);
    });

    it(`${driver} driver: realm-capacity-ports: the third concurrent isp-b call is refused 503 with a Reason, a freed port admits the next`, { timeout: 120_000 }, async () => {
      const out = join(dir, `ports-${driver}.jsonl`);
      const r = await replay([join("scenarios", "realm-capacity-ports.yaml"), ...net, "--ladder-json", out]);
      expect(r.stderr).toBe("");
      expect(r.stdout).toMatch(/4 established/);
      expect(r.stdout).toMatch(/expectations: all \d+ hold/);
      expect(r.code).toBe(0);
      const refusal = fromJsonLines(readFileSync(out, "utf8")).find((m) => m.callId === "isp-b-3" && m.to === "UAC" && m.msg.startsWith("503"));
      expect(refusal?.bytes.toString("latin1")).toMatch(/\r\nReason: SIP;cause=503;text="capacity of isp-b: ports"\r\n/);
    });

    it(`${driver} driver: realm-dual-accounting: Start and Stop to the master as isp-b-virtual and to isp-b as the subscriber`, { timeout: 120_000 }, async () => {
      const r = await replay([join("scenarios", "realm-dual-accounting.yaml"), ...net]);
      expect(r.stderr).toBe("");
      expect(r.stdout).toContain("realm accounting: all 4 records as expected");
      expect(r.code).toBe(0);
    });
  }

  it("the accounting check fails when a side holds other records than expected", { timeout: 60_000 }, async () => {
    const text = readFileSync(join("scenarios", "realm-dual-accounting.yaml"), "utf8").replace("isp-b: [Start carol@isp-b.example, Stop carol@isp-b.example]", "isp-b: [Start carol@isp-b.example]");
    const file = join(dir, "realm-dual-accounting.yaml");
    writeFileSync(file, text);
    const r = await replay([file]);
    expect(r.stdout).toContain("realm accounting: 1 side(s) differ");
    expect(r.stdout).toContain("isp-b: holds [Start carol@isp-b.example, Stop carol@isp-b.example], expected [Start carol@isp-b.example]");
    expect(r.code).toBe(1);
  });

  it("a caller challenged again and again (every nonce stale by the time it answers) gives up after two tries with the 407", { timeout: 60_000 }, async () => {
    const file = join(dir, "always-stale.yaml");
    writeFileSync(file, [
      "name: always-stale",
      "auth: { realm: sip1.example.com, nonceLifetimeMs: 0.5, users: [alice:sip1.example.com:SHA-256:43763cafe4d4dad9b19d799f48f89db38b356071cd843cc408d1df2f8e465532] }",
      "calls:",
      "  - { id: stale, caller: sip:alice@sip1.example.com, callee: sip:bob@example.net, credentials: { username: alice, password: wonderland }, expect: { finalStatus: 407 } }",
      "expect: { noStateLeft: true }",
    ].join("\n"));
    const out = join(dir, "always-stale.jsonl");
    const r = await replay([file, "--ladder-json", out]);
    expect(r.stdout).toMatch(/expectations: all \d+ hold/);
    expect(r.code).toBe(0);
    const records = fromJsonLines(readFileSync(out, "utf8"));
    const invites = records.filter((m) => m.from === "UAC" && m.msg === "INVITE").map((m) => parseSipMessage(m.bytes) as SipRequest);
    expect(invites.map((m) => m.cseq.seq)).toEqual([1, 2, 3]);
    const challenges = records.filter((m) => m.to === "UAC" && m.msg.startsWith("407")).map((m) => m.bytes.toString("latin1"));
    expect(challenges).toHaveLength(3);
    expect(challenges.slice(1).every((c) => /stale=true/.test(c))).toBe(true);
    expect(records.some((m) => m.msg === "REQ AAA")).toBe(false);
  });

  it("mistakes in the auth and realms sections are reported at their line and field", () => {
    const base = ["name: x", "calls:", "  - caller: sip:a@b", "    callee: sip:c@d"];
    const problems = (lines: string[]) => {
      try {
        parseScenario([...base, ...lines].join("\n"), "x.yaml");
      } catch (e) {
        expect(e).toBeInstanceOf(ScenarioError);
        return (e as Error).message;
      }
      throw new Error("accepted");
    };
    expect(problems(["    credentials: { username: alice }"])).toContain("x.yaml:5:18: calls[0].credentials.password: missing required field 'password'");
    expect(problems(["auth:", "  realm: r", "  users: [alice:r:SHA-1:abcd]"])).toMatch(/x\.yaml:7:11: auth\.users\[0\]: must match pattern/);
    expect(problems(["realms:", "  master: [m]", "  clients:", "    - { name: b, realms: [b], virtualIdentity: { user: v }, capacity: { portz: 2 } }"])).toContain("realms.clients[0].capacity.portz: unknown field 'portz'");
  });

  it("an auth section with both users and a credentials file, a missing file, --record, a realm named twice: refused before the run", async () => {
    const write = (name: string, auth: string[]) => {
      const file = join(dir, `${name}.yaml`);
      writeFileSync(file, [`name: ${name}`, "auth:", ...auth, "calls:", "  - caller: sip:a@b", "    callee: sip:c@d"].join("\n"));
      return file;
    };
    const both = await replay([write("both", ["  realm: r", "  credentials: creds", "  users: [alice:r:MD5:08e30a6a5b8a0ff3f13722c11393bf66]"])]);
    expect(both.stderr).toContain("auth: give either credentials (a file) or users (HA1 lines), not both");
    expect(both.code).toBe(2);
    const missing = await replay([write("missing", ["  realm: r", "  credentials: no-such-credentials"])]);
    expect(missing.stderr).toContain("auth.credentials no-such-credentials: no such file");
    expect(missing.code).toBe(2);
    const recorded = await replay([join("scenarios", "auth-fig5-fig6.yaml"), "--record", join(dir, "auth.trace")]);
    expect(recorded.stderr).toContain("--record: this run's policy, callerChallenge come from the scenario's quota, sessionLimits, auth or realms, which a trace cannot keep");
    expect(recorded.code).toBe(2);
    const twice = join(dir, "twice.yaml");
    writeFileSync(twice, ["name: twice", "realms:", "  master: [b.example]", "  clients: [{ name: b, realms: [B.example], virtualIdentity: { user: v }, capacity: { ports: 1 } }]", "calls:", "  - caller: sip:a@b.example", "    callee: sip:c@d"].join("\n"));
    const taken = await replay([twice]);
    expect(taken.stderr).toContain("realms.clients[0].realms[0]: realm 'B.example' already belongs to the master");
    expect(taken.code).toBe(2);
  });
});
