// `callgate serve` with the deploy file's `sessionLimits`: POL1 and POL2 each run a distributed session counter
// (DSC) in its own process, linked by mutual TLS. One caller's calls through both proxies (the UAC role, or SIPp
// in its place): never more than the realm's global threshold established at once, the next one refused with 403
// and a Reason naming the realm, and a call ending lets the next one in. POL1 killed mid-call and restarted
// leaves nothing counted, on the DSCs and on Redis (a real redis-server started here).
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import type { MessageRecord } from "../../lib/drivers/message-record.js";
import { mergeRecordFiles } from "../../lib/flow/serve-records.js";
import { rendezvousOwner } from "../../protocols/dsc/index.js";
import { BUILT_CLI, killStartedProcesses, type RunningProcess } from "../support/cli-process.js";
import { rolesSection } from "../support/deploy-file.js";
import { SERVER_ROLES, namedFreePorts, serveProcess, untilRecordsStill } from "../support/serve-deployment.js";
import { useRedisServer } from "../support/redis-server.js";
import { makeTestPki } from "../support/tls-test-pki.js";
import { findFile, sippPath, startSipp, workDir } from "./sip-sipp-helpers.js";
import { SCENARIO_DIR } from "./sipp-softphone-helpers.js";

afterAll(killStartedProcesses);
const redis = useRedisServer();

const LIMIT = 2;
/** The caller's realm, limited at POL1 (originating); its authoritative DSC is POL2's, so every grant crosses processes. */
const CALLER_REALM = "realm sip1.example.com";
/** The callee's realm, counted at POL2 (terminating) with POL1's DSC as its authority; never at its limit here. */
const CALLEE_REALM = "realm sip2.example.com";

async function scrape(port: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  return res.text();
}

function gauge(text: string, name: string, entity: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${name}{entity="${entity}",`));
  return line === undefined ? undefined : Number(line.split(" ").pop());
}

/** Per call at the UAC: its final status, the Reason of a refusal, and when it was established (ACK) and ended (BYE). */
function callsAtUac(records: MessageRecord[]): Map<string, { status?: string; reason?: string; up?: number; down?: number }> {
  const calls = new Map<string, { status?: string; reason?: string; up?: number; down?: number }>();
  const of = (id: string): { status?: string; reason?: string; up?: number; down?: number } => {
    let c = calls.get(id);
    if (c === undefined) calls.set(id, (c = {}));
    return c;
  };
  for (const r of records) {
    if (r.proto !== "SIP" || !r.callId.startsWith("call-")) continue;
    const c = of(r.callId);
    const text = r.bytes.toString("latin1");
    const cseqInvite = /^CSeq:\s*\d+\s+INVITE/im.test(text);
    if (r.to === "UAC" && /^[2-6]\d\d /.test(r.msg) && cseqInvite && Number(r.msg.slice(0, 3)) >= 200) {
      c.status = r.msg.slice(0, 3);
      const reason = /^Reason:\s*(.*)$/im.exec(text)?.[1];
      if (reason !== undefined) c.reason = reason.trim();
    }
    if (r.from === "UAC" && r.msg === "ACK" && c.status === "200" && c.up === undefined) c.up = r.t;
    if (r.from === "UAC" && r.msg === "BYE" && c.down === undefined) c.down = r.t;
  }
  return calls;
}

/** Polls `check` until it holds, or fails after a generous deadline (a loaded machine is slow, a fast one not waited for). */
async function until(what: string, check: () => Promise<boolean>, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`never: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Per call, the final response SIPp got to its INVITE and its Reason, from SIPp's message trace (-trace_msg). */
function sippFinals(trace: string): Map<string, { status: string; reason?: string }> {
  const finals = new Map<string, { status: string; reason?: string }>();
  // Each message follows a line of dashes and a "UDP message received [N] bytes :" or "... sent ..." line.
  for (const entry of trace.split(/^-{10,}.*$/m)) {
    const received = /message received \[\d+\] bytes :\s*\n([\s\S]*)/.exec(entry)?.[1];
    if (received === undefined) continue;
    const status = /^SIP\/2\.0 (\d{3}) /.exec(received.trimStart())?.[1];
    const callId = /^Call-ID:\s*(\S+)/im.exec(received)?.[1];
    if (status === undefined || callId === undefined || Number(status) < 200 || !/^CSeq:\s*\d+\s+INVITE/im.test(received)) continue;
    const reason = /^Reason:\s*(.*?)\s*$/im.exec(received)?.[1];
    finals.set(callId, { status, ...(reason !== undefined ? { reason } : {}) });
  }
  return finals;
}

/** `calls` SIPp calls at once from alice@sip1.example.com to SIP1 (local port `uacPort`); each answered one talks 4 s. */
async function sippCalls(calls: number, sip1: number, uacPort: number): Promise<{ status: string; reason?: string }[]> {
  const work = workDir("callgate-dsc-sipp-");
  const run = await startSipp(
    ["-sf", join(SCENARIO_DIR, "dsc-limited-call.xml"), "-m", String(calls), "-l", String(calls), "-r", "50", "-s", "bob", "-i", "127.0.0.1", "-p", String(uacPort), "-nostdin", "-timeout", "60", "-trace_msg", "-trace_err", `127.0.0.1:${sip1}`],
    work,
  ).done;
  expect(run.code, `${run.stdout.slice(-1500)}${run.stderr}`).toBe(0);
  return [...sippFinals(readFileSync(findFile(work, "_messages.log"), "latin1")).values()];
}

/** The nine roles but CH as `callgate serve` processes (POL1 and POL2 with their metrics), all ready; the UAC not started. */
async function deployment(calls: string, counters: { redisPort: number } | "dsc" = "dsc"): Promise<{ dir: string; config: string; p: Record<string, number>; roles: string[]; servers: { role: string; s: RunningProcess }[] }> {
  const dir = mkdtempSync(join(tmpdir(), "callgate-dsc-serve-"));
  const pki = makeTestPki(["POL1", "POL2"], "callgate DSC CA", mkdtempSync(join(tmpdir(), "callgate-dsc-pki-")));
  const p = await namedFreePorts(["uac", "sip1", "pol1", "sip2", "pol2", "uas", "dsc1", "dsc2", "m1", "m2"]);
  const config = join(dir, "deploy.yaml");
  writeFileSync(
    config,
    [
      "name: dsc-serve",
      "seed: 5",
      "topology: { clearinghouse: none, sipTransport: udp }",
      ...rolesSection({ UAC: `{ udp: ${p.uac} }`, SIP1: `{ udp: ${p.sip1} }`, POL1: p.pol1, CH: 1, SIP2: `{ udp: ${p.sip2} }`, POL2: p.pol2, UAS: `{ udp: ${p.uas} }` }).filter((l) => !l.includes("CH:")),
      calls,
      "sessionLimits:",
      `  thresholds: { "${CALLER_REALM}": { global: ${LIMIT}, local: 0 }, "${CALLEE_REALM}": { global: 5, local: 1 } }`,
      counters === "dsc"
        ? `  dsc: { POL1: ${p.dsc1}, POL2: ${p.dsc2}, tls: { ca: ${pki.caFile}, POL1: { key: ${pki.files.POL1?.key}, cert: ${pki.files.POL1?.certificate} }, POL2: { key: ${pki.files.POL2?.key}, cert: ${pki.files.POL2?.certificate} } } }`
        : `  redis: "redis://127.0.0.1:${counters.redisPort}/0"`,
      "",
    ].join("\n"),
  );
  const roles = SERVER_ROLES.filter((r) => r !== "CH");
  const metricsPort: Record<string, number> = { POL1: p.m1, POL2: p.m2 };
  const servers: { role: string; s: RunningProcess }[] = roles.map((role) => ({
    role,
    s: serveProcess(role, config, join(dir, `${role}.jsonl`), { built: true, extra: metricsPort[role] ? ["--metrics", `127.0.0.1:${metricsPort[role]}`] : [] }),
  }));
  for (const { role, s } of servers) await s.waitFor(`${role} ready`, { what: role, ms: 60_000 });
  return { dir, config, p, roles, servers };
}

describe("callgate serve: session limits on the policy servers' DSCs", () => {
  it("two DSC processes over mutual TLS keep one caller's realm at its limit; a refusal is 403 naming the realm, an end lets the next call in", async () => {
    expect(existsSync(BUILT_CLI), "run `npm run build` first").toBe(true);
    expect(rendezvousOwner(CALLER_REALM, ["POL1", "POL2"])).toBe("POL2");
    expect(rendezvousOwner(CALLEE_REALM, ["POL1", "POL2"])).toBe("POL1");
    // Calls 2 s apart, each up for about 5 s: calls 1-2 take the limit, 3 is refused, 4 comes after call 1
    // ended, 5 after call 2, 6 finds 4 and 5 up.
    const { dir, config, p, roles, servers } = await deployment("calls: { count: 6, intervalMs: 2000, answerDelayMs: 150, durationMs: 4800, hangUp: caller }");
    const uac = serveProcess("UAC", config, join(dir, "UAC.jsonl"), { built: true });
    // The UAC exits 1 when a call failed: here the two refused.
    expect(await uac.exited, uac.output()).toBe(1);
    expect(uac.output()).toContain("UAC: 6 call(s), 4 answered and ended, 2 failed");
    const files = ["UAC", ...roles].map((r) => join(dir, `${r}.jsonl`)).filter((f) => existsSync(f));
    await untilRecordsStill(files);
    const [m1, m2] = await Promise.all([scrape(p.m1), scrape(p.m2)]);
    for (const { s } of servers) s.child.kill("SIGTERM");
    expect(await Promise.all(servers.map(({ s }) => s.exited))).toEqual(servers.map(() => 0));

    const calls = [...callsAtUac(mergeRecordFiles(files)).entries()].sort((a, b) => Number(/\d+/.exec(a[0])?.[0]) - Number(/\d+/.exec(b[0])?.[0]));
    const statuses = calls.map(([, c]) => c.status);
    expect(statuses, JSON.stringify(calls)).toEqual(["200", "200", "403", "200", "200", "403"]);
    for (const [, c] of calls.filter(([, x]) => x.status === "403")) expect(c.reason).toBe(`SIP;cause=403;text="${CALLER_REALM} at its session limit"`);
    // Never more than LIMIT established at once, as the UAC saw them (ACK of the 200 to its BYE).
    const edges = calls.flatMap(([, c]) => (c.up !== undefined ? [{ t: c.up, d: 1 }, { t: c.down ?? Infinity, d: -1 }] : [])).sort((a, b) => a.t - b.t || a.d - b.d);
    let up = 0;
    let most = 0;
    for (const e of edges) most = Math.max(most, (up += e.d));
    expect(most).toBe(LIMIT);
    // POL1's DSC decided the caller's realm (4 granted, 2 refused), asking its authority, POL2's DSC, which refused
    // the same two; POL2's DSC granted the callee's realm for the 4 calls that reached it. All released at the end.
    expect(gauge(m1, "callgate_session_entity_granted", CALLER_REALM)).toBe(4);
    expect(gauge(m1, "callgate_session_entity_refused", CALLER_REALM)).toBe(2);
    expect(gauge(m2, "callgate_session_entity_refused", CALLER_REALM)).toBe(2);
    expect(gauge(m2, "callgate_session_entity_granted", CALLEE_REALM)).toBe(4);
    for (const m of [m1, m2])
      for (const entity of [CALLER_REALM, CALLEE_REALM]) {
        expect(gauge(m, "callgate_session_entity_active", entity)).toBe(0);
        expect(gauge(m, "callgate_session_entity_over_subscribed", entity)).toBe(0);
      }
  }, 90_000);

  it("SIPp in the UAC's place: three calls of the realm at once, two answered and one refused 403 naming the realm; once they ended, the next is answered", async () => {
    expect(sippPath(), "sipp (Debian sip-tester) must be installed").toBeTruthy();
    const { p, servers } = await deployment("calls: { count: 1, answerDelayMs: 150, durationMs: 1000, hangUp: caller }");
    // The realm's limit is 2 and every grant asks its authority (local 0): of three at once, exactly one is refused,
    // as each answered call stays up 4 s after its answer.
    const first = await sippCalls(3, p.sip1, p.uac);
    expect(first.map((c) => c.status).sort(), JSON.stringify(first)).toEqual(["200", "200", "403"]);
    expect(first.find((c) => c.status === "403")?.reason).toBe(`SIP;cause=403;text="${CALLER_REALM} at its session limit"`);
    // The BYEs ended them (COPS DRQ to POL1): both DSCs count 0 again.
    await until("the realm's count back to 0 at both DSCs", async () => {
      const [m1, m2] = await Promise.all([scrape(p.m1), scrape(p.m2)]);
      return gauge(m1, "callgate_session_entity_active", CALLER_REALM) === 0 && gauge(m2, "callgate_session_entity_active", CALLER_REALM) === 0;
    });
    const second = await sippCalls(1, p.sip1, p.uac);
    expect(second).toEqual([{ status: "200" }]);
    const m1 = await scrape(p.m1);
    expect(gauge(m1, "callgate_session_entity_granted", CALLER_REALM)).toBe(3);
    expect(gauge(m1, "callgate_session_entity_refused", CALLER_REALM)).toBe(1);
    for (const { s } of servers) s.child.kill("SIGTERM");
    expect(await Promise.all(servers.map(({ s }) => s.exited))).toEqual(servers.map(() => 0));
  }, 120_000);

  it("POL1 killed (SIGKILL) while its two calls are up and started again: its DSC rebuilds them from the authority, and their ends release them", async () => {
    const { dir, config, p, servers } = await deployment("calls: { count: 4, intervalMs: 500, answerDelayMs: 150, durationMs: 7000, hangUp: caller }");
    const uac = serveProcess("UAC", config, join(dir, "UAC.jsonl"), { built: true });
    // Calls 1-2 up and counted at the realm's authority, 3-4 refused; then POL1 dies with both calls counted.
    await until("two calls counted and two refused at POL2's DSC", async () => {
      const m = await scrape(p.m2);
      return gauge(m, "callgate_session_entity_active", CALLER_REALM) === 2 && gauge(m, "callgate_session_entity_refused", CALLER_REALM) === 2;
    });
    const pol1 = servers.find((x) => x.role === "POL1") as { s: RunningProcess };
    pol1.s.child.kill("SIGKILL");
    await pol1.s.exited;
    const restarted = serveProcess("POL1", config, join(dir, "POL1-restarted.jsonl"), { built: true, extra: ["--metrics", `127.0.0.1:${p.m1}`] });
    await restarted.waitFor("POL1 ready", { ms: 60_000 });
    expect(await uac.exited, uac.output()).toBe(1);
    expect(uac.output()).toContain("UAC: 4 call(s), 2 answered and ended, 2 failed");
    // The calls' ends reached the restarted POL1 (COPS DRQ): nothing stays counted anywhere.
    let m1 = "";
    let m2 = "";
    for (let i = 0; i < 40; i++) {
      [m1, m2] = await Promise.all([scrape(p.m1), scrape(p.m2)]);
      if (gauge(m2, "callgate_session_entity_active", CALLER_REALM) === 0 && gauge(m1, "callgate_session_entity_active", CALLER_REALM) === 0) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(gauge(m2, "callgate_session_entity_refused", CALLER_REALM)).toBe(2);
    for (const m of [m1, m2]) {
      expect(gauge(m, "callgate_session_entity_active", CALLER_REALM)).toBe(0);
      expect(gauge(m, "callgate_session_entity_over_subscribed", CALLER_REALM)).toBe(0);
    }
    restarted.child.kill("SIGTERM");
    for (const { s } of servers) s.child.kill("SIGTERM");
    await restarted.exited;
  }, 90_000);

  it("on Redis: POL1 killed (SIGKILL) mid-call and started again; the calls' ends release the sessions granted before, by id, and the count is 0", async () => {
    const { dir, config, servers } = await deployment("calls: { count: 4, intervalMs: 500, answerDelayMs: 150, durationMs: 7000, hangUp: caller }", { redisPort: redis.port() });
    const counted = new Redis({ host: "127.0.0.1", port: redis.port() });
    const realmSessions = "callgate:dsc:{" + CALLER_REALM + "}:sessions";
    try {
      const uac = serveProcess("UAC", config, join(dir, "UAC.jsonl"), { built: true });
      // Calls 1-2 up and counted in Redis, 3-4 refused; then POL1 dies with both calls counted.
      await until("two sessions of the realm in Redis and two refusals", async () => (await counted.scard(realmSessions)) === 2 && Number(await counted.hget("callgate:dsc:{" + CALLER_REALM + "}:stats", "refused")) === 2);
      // Each session's record, under POL1's name.
      expect(await counted.hlen("callgate:dsc:{owner POL1}:owned")).toBe(2);
      const pol1 = servers.find((x) => x.role === "POL1") as { s: RunningProcess };
      pol1.s.child.kill("SIGKILL");
      await pol1.s.exited;
      const restarted = serveProcess("POL1", config, join(dir, "POL1-restarted.jsonl"), { built: true });
      await restarted.waitFor("POL1 ready", { ms: 60_000 });
      expect(await uac.exited, uac.output()).toBe(1);
      expect(uac.output()).toContain("UAC: 4 call(s), 2 answered and ended, 2 failed");
      // The ends (COPS DRQ to the new POL1) found no call of its own and released the sessions by id.
      await until("the realm's count back to 0", async () => (await counted.scard(realmSessions)) === 0);
      expect(await counted.hlen("callgate:dsc:{owner POL1}:owned")).toBe(0);
      restarted.child.kill("SIGTERM");
      await restarted.exited;
    } finally {
      counted.disconnect();
      for (const { s } of servers) s.child.kill("SIGTERM");
    }
  }, 120_000);
});
