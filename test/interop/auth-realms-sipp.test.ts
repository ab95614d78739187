// Realm capacity for calls with SIPp as the callers, subscribers of isp-b.example, a provider renting two ports
// from the master: through `callgate lab --realms FILE` in its own process, and through `callgate serve` processes
// (the built CLI) with the deploy file's `realms` section. Three isp-b calls at once: two are answered, the third
// is refused 503 by POL1 with a Reason naming the provider and the cause; in the lab a master subscriber's call
// meanwhile needs no rented port and an unknown realm gets 403; once the isp-b calls have ended (POL1 has their
// usage), the next one is answered. The record files (every message with its bytes) are the evidence.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { killStartedProcesses, spawnCli, type RunningProcess } from "../support/cli-process.js";
import { rolesSection } from "../support/deploy-file.js";
import { namedFreePorts, serveProcess } from "../support/serve-deployment.js";
import { ISP_B, finals, recordsOf, startSippCallers, startingWith, usageIn } from "./auth-realms-helpers.js";
import { freePort, sippPath, workDir } from "./sip-sipp-helpers.js";

const running: RunningProcess[] = [];
afterAll(async () => {
  await Promise.all(running.map((p) => p.stop()));
  killStartedProcesses();
});

const dir = workDir("callgate-realms-sipp-");

/** SIPp placing `calls` calls at once from sub<n>@`realm` (from local port `port`, if given); each answered one talks 4 s. */
const sippCallers = (sip1: string, realm: string, calls: number, tag: string, port?: number) => startSippCallers(sip1, realm, calls, tag, port === undefined ? {} : { port });

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
