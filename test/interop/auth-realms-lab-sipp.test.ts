// Realm capacity for calls through `callgate lab --realms FILE` in its own process, SIPp as the callers: the master
// rents two ports to isp-b. Three isp-b calls at once: two are answered, the third is refused 503 with a Reason
// naming the provider and the cause; a master subscriber's call meanwhile needs no rented port; an unknown realm
// gets 403; once the isp-b calls have ended, the next one is answered (its port freed by the usage at the end).
// The lab's --record file is the evidence (every message with its bytes), SIPp's exit code the callers' view.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { recordFromJsonLine, type MessageRecord } from "../../lib/drivers/message-record.js";
import { killStartedProcesses, spawnCli } from "../support/cli-process.js";
import { freePort, sippPath, startSipp, workDir } from "./sip-sipp-helpers.js";
import { SCENARIO_DIR } from "./sipp-softphone-helpers.js";

afterAll(killStartedProcesses);

const dir = workDir("callgate-realms-lab-");

/** SIPp placing `calls` calls at once from sub<n>@`realm` to the lab's SIP1; each answered one talks 4 s. */
async function sippCallers(sip1: string, realm: string, calls: number, tag: string) {
  const work = workDir("callgate-realms-sipp-");
  const run = await startSipp(
    ["-sf", join(SCENARIO_DIR, "realm-caller.xml"), "-key", "caller_realm", realm, "-m", String(calls), "-l", String(calls), "-r", "50", "-s", "bob", "-i", "127.0.0.1", "-p", String(await freePort()), "-cid_str", `${tag}-%u-%p@%s`, "-nostdin", "-timeout", "60", "-trace_err", sip1],
    work,
  ).done;
  return run;
}

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

/** Waits (up to 30 s) until `file` holds `count` records POL1 sent SIP1 as DEC noLDP for calls whose id starts with `prefix`: their usage is in. */
async function usageIn(file: string, prefix: string, count: number): Promise<void> {
  const ended = () =>
    existsSync(file) ? readFileSync(file, "utf8").split("\n").filter((l) => l.trim() !== "").map(recordFromJsonLine).filter((r) => r.from === "POL1" && r.msg === "DEC noLDP" && r.callId.startsWith(prefix)).length : 0;
  for (const end = Date.now() + 30_000; ended() < count; ) {
    if (Date.now() > end) throw new Error(`${count} usage reports of ${prefix} calls not in ${file} within 30 s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("callgate lab --realms with SIPp callers", () => {
  it("two ports rented to isp-b: the third concurrent call 503 with a Reason; master realm free; unknown realm 403; a freed port admits the next", async () => {
    expect(sippPath(), "sipp (Debian sip-tester) must be installed").toBeTruthy();
    const realms = join(dir, "realms.yaml");
    writeFileSync(realms, ["master: [master.example]", "clients:", "  - { name: isp-b, realms: [isp-b.example], virtualIdentity: { user: isp-b-virtual }, capacity: { ports: 2 } }", ""].join("\n"));
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
    const records = readFileSync(record, "utf8").split("\n").filter((l) => l.trim() !== "").map(recordFromJsonLine);
    const byCall = finals(records);
    const of = (prefix: string) => [...byCall].filter(([id]) => id.startsWith(prefix)).map(([, f]) => f);
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
