// Realm capacity for calls with SIPp as the callers, subscribers of isp-b.example, a provider renting two ports
// from the master: through `callgate lab --realms FILE` in its own process, and through `callgate serve` processes
// (the built CLI) with the deploy file's `realms` section. Three isp-b calls at once: two are answered, the third
// is refused 503 by POL1 with a Reason naming the provider and the cause; in the lab a master subscriber's call
// meanwhile needs no rented port and an unknown realm gets 403; once the isp-b calls have ended (POL1 has their
// usage), the next one is answered. The record files (every message with its bytes) are the evidence.
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { recordFromJsonLine, type MessageRecord } from "../../lib/drivers/message-record.js";
import { killStartedProcesses, spawnCli, type RunningProcess } from "../support/cli-process.js";
import { rolesSection } from "../support/deploy-file.js";
import { namedFreePorts, serveProcess } from "../support/serve-deployment.js";
import { freePort, sippPath, startSipp, workDir } from "./sip-sipp-helpers.js";
import { SCENARIO_DIR } from "./sipp-softphone-helpers.js";

const running: RunningProcess[] = [];
afterAll(async () => {
  await Promise.all(running.map((p) => p.stop()));
  killStartedProcesses();
});

const dir = workDir("callgate-realms-sipp-");
const ISP_B = "  - { name: isp-b, realms: [isp-b.example], virtualIdentity: { user: isp-b-virtual }, capacity: { ports: 2 } }";

/** SIPp placing `calls` calls at once from sub<n>@`realm` (from local port `port`, if given); each answered one talks 4 s. */
async function sippCallers(sip1: string, realm: string, calls: number, tag: string, port?: number) {
  const work = workDir("callgate-realms-sipp-run-");
  return startSipp(
    ["-sf", join(SCENARIO_DIR, "realm-caller.xml"), "-key", "caller_realm", realm, "-m", String(calls), "-l", String(calls), "-r", "50", "-s", "bob", "-i", "127.0.0.1", "-p", String(port ?? (await freePort())), "-cid_str", `${tag}-%u-%p@%s`, "-nostdin", "-timeout", "60", "-trace_err", sip1],
    work,
  ).done;
}

const recordsOf = (file: string): MessageRecord[] => (existsSync(file) ? readFileSync(file, "utf8").split("\n").filter((l) => l.trim() !== "").map(recordFromJsonLine) : []);

/** The final response to each call's INVITE that SIP1 sent the caller, by Call-ID, with its Reason. */
function finals(records: MessageRecord[]): Map<string, { status: number; reason: string | undefined }> {
  const out = new Map<string, { status: number; reason: string | undefined }>();
  for (const r of records) {
    if (r.proto !== "SIP" || r.from !== "SIP1" || r.to !== "UAC" || !/^[2-6]\d\d /.test(r.msg)) continue;
    const text = r.bytes.toString("latin1");
    if (!/\r\nCSeq:\s*\d+ INVITE\r\n/i.test(text)) continue;
    out.set(r.callId, { status: Number(r.msg.slice(0, 3)), reason: /\r\nReason:\s*([^\r]*)/i.exec(text)?.[1] });
  }
  return out;
}

/** Waits (up to 30 s) until `file` holds `count` DEC noLDP POL1 sent for calls whose id starts with `prefix`: their usage is in. */
async function usageIn(file: string, prefix: string, count: number): Promise<void> {
  const ended = () => recordsOf(file).filter((r) => r.from === "POL1" && r.msg === "DEC noLDP" && r.callId.startsWith(prefix)).length;
  for (const end = Date.now() + 30_000; ended() < count; ) {
    if (Date.now() > end) throw new Error(`${count} usage reports of ${prefix} calls not in ${file} within 30 s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const startingWith = (finals: Map<string, { status: number; reason: string | undefined }>, prefix: string) => [...finals].filter(([id]) => id.startsWith(prefix)).map(([, f]) => f);

describe("callgate lab --realms with SIPp callers", () => {
  it("two ports rented to isp-b: the third concurrent call 503 with a Reason; master realm free; unknown realm 403; a freed port admits the next", async () => {
    expect(sippPath(), "sipp (Debian sip-tester) must be installed").toBeTruthy();
    const realms = join(dir, "realms.yaml");
    writeFileSync(realms, ["master: [master.example]", "clients:", ISP_B, ""].join("\n"));
    const record = join(dir, "lab.jsonl");
    const sipPort = await freePort();
    const lab = spawnCli("lab", ["--sip-port", String(sipPort), "--answer-delay", "50", "--realms", realms, "--record", record, "--log-level", "warn"]);
    await lab.waitFor("SIGTERM stops the lab", { ms: 30_000, stream: "stdout" });
    const sip1 = `127.0.0.1:${sipPort}`;

    // three isp-b calls at once, and a master subscriber's call while they are up
    const [ispB, master] = await Promise.all([sippCallers(sip1, "isp-b.example", 3, "ispb"), new Promise((r) => setTimeout(r, 1000)).then(() => sippCallers(sip1, "master.example", 1, "master"))]);
    expect(ispB.code, ispB.stdout.slice(-1500)).toBe(0);
    expect(master.code, master.stdout.slice(-1500)).toBe(0);
    const unknown = await sippCallers(sip1, "elsewhere.example", 1, "unknown");
    expect(unknown.code, unknown.stdout.slice(-1500)).toBe(0);
    // both isp-b ports are free again (the answered calls ended, POL1 has their usage): the next isp-b call is answered
    await usageIn(record, "ispb-", 2);
    const after = await sippCallers(sip1, "isp-b.example", 1, "after");
    expect(after.code, after.stdout.slice(-1500)).toBe(0);

    expect(await lab.stop("SIGTERM")).toBe(0);
    const records = recordsOf(record);
    const byCall = finals(records);
    const of = (prefix: string) => startingWith(byCall, prefix);
    const ispBFinals = of("ispb-");
    expect(ispBFinals.map((f) => f.status).sort()).toEqual([200, 200, 503]);
    expect(ispBFinals.find((f) => f.status === 503)?.reason).toBe('SIP;cause=503;text="capacity of isp-b: ports"');
    expect(of("master-").map((f) => f.status)).toEqual([200]);
    expect(of("unknown-")).toEqual([{ status: 403, reason: 'SIP;cause=403;text="unknown realm"' }]);
    expect(of("after-").map((f) => f.status)).toEqual([200]);
    // the refused call never left SIP1
    const refused = [...byCall].find(([id, f]) => id.startsWith("ispb-") && f.status === 503)![0];
    expect(records.some((r) => r.callId === refused && r.from === "SIP1" && r.to === "SIP2")).toBe(false);
    // every answered call was ended by its BYE, answered 200
    const byes = records.filter((r) => r.from === "SIP1" && r.to === "UAC" && r.msg === "200 OK" && /\r\nCSeq:\s*\d+ BYE\r\n/i.test(r.bytes.toString("latin1")));
    expect(byes).toHaveLength(4);
  }, 120_000);
});

describe("callgate serve with the deploy file's realms section", () => {
  it("SIPp subscribers of a two-port provider: the third concurrent call 503 with a Reason, a freed port admits the next", async () => {
    expect(sippPath(), "sipp (Debian sip-tester) must be installed").toBeTruthy();
    const dir = mkdtempSync(join(tmpdir(), "callgate-realms-serve-"));
    const ROLES = ["SIP1", "POL1", "R1", "SIP2", "POL2", "R2", "UAS"] as const;
    const p = await namedFreePorts(["uac", "sip1", "pol1", "ch", "sip2", "pol2", "uas"]);
    const config = join(dir, "deploy.yaml");
    writeFileSync(
      config,
      [
        "name: realms",
        "topology: { clearinghouse: none }",
        "realms:",
        "  master: [master.example]",
        "  clients:",
        `  ${ISP_B}`,
        ...rolesSection({ UAC: `{ udp: ${p.uac} }`, SIP1: `{ udp: ${p.sip1} }`, POL1: p.pol1, CH: p.ch, SIP2: `{ udp: ${p.sip2} }`, POL2: p.pol2, UAS: `{ udp: ${p.uas} }` }),
        "calls: { count: 1, answerDelayMs: 100, durationMs: 300, hangUp: caller }",
        "",
      ].join("\n"),
    );
    for (const role of ROLES) running.push(serveProcess(role, config, join(dir, `${role}.jsonl`), { built: true }));
    for (const [i, role] of ROLES.entries()) await running[i]!.waitFor(`${role} ready`, { what: role, ms: 90_000 });
    const sip1 = `127.0.0.1:${p.sip1}`;
    expect((await sippCallers(sip1, "isp-b.example", 3, "ispb", p.uac)).code).toBe(0);
    // the two answered calls have ended and POL1 has their usage: their ports are free
    await usageIn(join(dir, "POL1.jsonl"), "ispb-", 2);
    expect((await sippCallers(sip1, "isp-b.example", 1, "after", p.uac)).code).toBe(0);

    // SIP1's records: the final response to each INVITE it sent the caller
    const records = recordsOf(join(dir, "SIP1.jsonl"));
    const byCall = finals(records);
    const of = (prefix: string) => startingWith(byCall, prefix);
    expect(of("ispb-").map((f) => f.status).sort()).toEqual([200, 200, 503]);
    expect(of("ispb-").find((f) => f.status === 503)?.reason).toBe('SIP;cause=503;text="capacity of isp-b: ports"');
    expect(of("after-").map((f) => f.status)).toEqual([200]);
    const refused = [...byCall].find(([id, f]) => id.startsWith("ispb-") && f.status === 503)![0];
    expect(records.some((r) => r.callId === refused && r.to === "SIP2")).toBe(false);
  }, 150_000);
});
