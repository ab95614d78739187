// sip.js 0.21 holds and resumes a call through `callgate serve` processes: sip.js → SIP1's WebSocket listener of
// the deploy file (`sip: { udp, ws }`, RFC 7118) → SIP2 → UAS, each role its own process. The UAS sees sendrecv,
// sendonly, sendrecv; each change asks both policy servers again (TLV 9: 1, 2) and swaps the routers'
// classifiers; the call gets one usage record per side.
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { mergeRecordFiles } from "../../lib/flow/serve-records.js";
import { BUILT_CLI, killStartedProcesses, type RunningProcess } from "../support/cli-process.js";
import { rolesSection } from "../support/deploy-file.js";
import { SERVER_ROLES, namedFreePorts, serveProcess, untilRecordsStill } from "../support/serve-deployment.js";
import { directionsAtUas, mediaChanges, sipjsCall } from "./sipjs-helpers.js";

const dir = mkdtempSync(join(tmpdir(), "callgate-sipjs-serve-"));
const servers = new Map<string, RunningProcess>();
const recordFiles: string[] = [];
let p: Record<"uac" | "sip1" | "ws" | "pol1" | "ch" | "sip2" | "pol2" | "uas", number>;

/** The deploy file with this `calls:` line; every process reads the same roles. */
function deployFile(name: string, calls: string): string {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(
    file,
    [
      "name: sipjs-ws",
      "topology: { clearinghouse: osp-http, signedTokens: true, sipTransport: udp }",
      ...rolesSection({ UAC: `{ udp: ${p.uac} }`, SIP1: `{ udp: ${p.sip1}, ws: ${p.ws} }`, POL1: p.pol1, CH: p.ch, SIP2: `{ udp: ${p.sip2} }`, POL2: p.pol2, UAS: `{ udp: ${p.uas} }` }),
      calls,
      "",
    ].join("\n"),
  );
  return file;
}

function serve(role: string, file: string, name = role): RunningProcess {
  const record = join(dir, `${name}.jsonl`);
  recordFiles.push(record);
  const s = serveProcess(role, file, record, { built: true });
  servers.set(role, s);
  return s;
}

beforeAll(async () => {
  expect(existsSync(BUILT_CLI), "run `npm run build` first").toBe(true);
  p = await namedFreePorts(["uac", "sip1", "ws", "pol1", "ch", "sip2", "pol2", "uas"]);
  const file = deployFile("base", "calls: { answerDelayMs: 100, durationMs: 0, hangUp: caller }");
  for (const role of SERVER_ROLES) serve(role, file);
  for (const role of SERVER_ROLES) await servers.get(role)!.waitFor(`${role} ready`, { what: role, ms: 60_000 });
}, 90_000);

afterAll(async () => {
  for (const s of servers.values()) if (s.child.exitCode === null) s.child.kill("SIGTERM");
  await Promise.all([...servers.values()].map((s) => s.exited));
  killStartedProcesses();
});

describe("sip.js over WebSocket through callgate serve's SIP1", () => {
  it("SIP1 prints its WebSocket listener; hold and resume each answered 200; the UAS sees sendrecv, sendonly, sendrecv; TLV 9 1 and 2 at both proxies with DEC Install and Remove at both routers; one usage record per side", async () => {
    expect(servers.get("SIP1")!.output()).toContain(`ws ws://127.0.0.1:${p.ws}`);
    const call = await sipjsCall(`ws://127.0.0.1:${p.ws}`, `sip:bob@127.0.0.1:${p.sip1}`);
    expect((await call.reinvite(true)).status).toBe(200);
    expect((await call.reinvite(false)).status).toBe(200);
    expect(await call.hangUp()).toBe(200);
    await call.stop();
    expect(call.offers).toEqual(["sendrecv", "sendonly", "sendrecv"]);
    const callId = call.callId;

    const usage = () => mergeRecordFiles(recordFiles.filter((f) => existsSync(f))).filter((r) => r.callId === callId && r.proto === "OSP" && r.msg === "UsageConfirmation").length;
    for (let i = 0; i < 300 && usage() < 2; i++) await new Promise((r) => setTimeout(r, 100));
    await untilRecordsStill(recordFiles);
    const records = mergeRecordFiles(recordFiles.filter((f) => existsSync(f)));
    const mine = records.filter((r) => r.callId === callId);
    // SIP1 names the caller by its connection's address (a foreign element of the deployment) and answers on it:
    // three INVITEs and the BYE answered 200
    const answers = mine.filter((r) => r.from === "SIP1" && r.msg.startsWith("200 ") && r.to !== "SIP2");
    expect(new Set(answers.map((r) => r.to)).size).toBe(1);
    expect(answers[0]?.to).toMatch(/^127\.0\.0\.1:\d+$/);
    // (a 2xx the UAS retransmitted before the ACK reached it is relayed again: counted once per CSeq)
    const answered = new Set(answers.map((r) => /^CSeq:\s*(\d+\s+\w+)/im.exec(r.bytes.toString("latin1"))?.[1]?.replace(/\s+/, " ")));
    expect([...answered].map((c) => c?.split(" ")[1])).toEqual(["INVITE", "INVITE", "INVITE", "BYE"]);
    expect(directionsAtUas(records, callId)).toEqual(["sendrecv", "sendonly", "sendrecv"]);
    for (const [proxy, pol, router] of [["SIP1", "POL1", "R1"], ["SIP2", "POL2", "R2"]] as const) {
      expect(mediaChanges(records, callId, proxy, pol, router), proxy).toEqual([
        { change: 1, toRouter: ["DEC Install", "DEC Remove"] },
        { change: 2, toRouter: ["DEC Install", "DEC Remove"] },
      ]);
      const decs = mine.filter((r) => r.proto === "COPS" && r.from === pol && r.to === router);
      expect(decs.filter((r) => r.msg === "DEC Remove").length, router).toBe(decs.filter((r) => r.msg === "DEC Install").length);
    }
    // SIP1 record-routes twice (RFC 5658 §4): its UDP listener toward SIP2, its WebSocket listener toward the caller
    const invite = mine.find((r) => r.from === "SIP1" && r.to === "SIP2" && r.msg === "INVITE")!.bytes.toString("latin1");
    expect(invite.match(/^Record-Route: .*$/gim)).toEqual([`Record-Route: <sip:127.0.0.1:${p.sip1};lr>`, `Record-Route: <sip:127.0.0.1:${p.ws};transport=ws;lr>`]);
    expect(mine.filter((r) => r.proto === "OSP" && r.msg === "UsageIndication").map((r) => r.from).sort()).toEqual(["POL1", "POL2"]);
  }, 90_000);

  it("the callee hangs up: its BYE reaches sip.js on the connection SIP1 took the call on, and is answered 200", async () => {
    const old = servers.get("UAS")!;
    old.child.kill("SIGTERM");
    expect(await old.exited).toBe(0);
    const uas = serve("UAS", deployFile("callee-hangs-up", "calls: { answerDelayMs: 100, durationMs: 1000, hangUp: callee }"), "UAS-hangs-up");
    await uas.waitFor("UAS ready", { what: "UAS", ms: 60_000 });
    const call = await sipjsCall(`ws://127.0.0.1:${p.ws}`, `sip:bob@127.0.0.1:${p.sip1}`);
    await call.ended;
    await call.stop();
    await untilRecordsStill(recordFiles);
    const mine = mergeRecordFiles(recordFiles.filter((f) => existsSync(f))).filter((r) => r.callId === call.callId);
    const bye = mine.find((r) => r.from === "SIP1" && r.msg === "BYE");
    expect(bye?.to).toMatch(/^127\.0\.0\.1:\d+$/);
    // sip.js's 200 for the BYE came back through SIP1 to SIP2 and the UAS
    expect(mine.some((r) => r.from === "SIP2" && r.to === "UAS" && r.msg.startsWith("200 ") && /^CSeq:\s*\d+\s+BYE/im.test(r.bytes.toString("latin1")))).toBe(true);
  }, 90_000);

  it("a WebSocket message that is no SIP message closes its connection (1007); SIP1 stays up", async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${p.ws}`, "sip");
    ws.on("error", () => undefined);
    await new Promise<void>((resolve, reject) => {
      ws.once("open", () => resolve());
      ws.once("close", () => reject(new Error("refused")));
    });
    const closed = new Promise<number>((resolve) => ws.once("close", (code) => resolve(code)));
    ws.send("this is no SIP message");
    expect(await closed).toBe(1007);
    expect(servers.get("SIP1")!.child.exitCode).toBeNull();
  }, 30_000);
});
