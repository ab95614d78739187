// Glare through a `callgate lab` process whose callee re-INVITEs (`--reinvites`, a deploy file's calls.reinvites):
// SIPp calls, the UAS puts it on hold half a second after the ACK while SIPp's own re-INVITE crosses it; each end
// answers the other 491, every hop acknowledges and relays the 491, the UAS (not the Call-ID's owner) offers again
// within 2 s (RFC 3261 §14.1), and each proxy's last media change is that hold, agreed by its policy server.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { MessageRecord } from "../../lib/drivers/message-record.js";
import { mergeRecordFiles } from "../../lib/flow/serve-records.js";
import { decodeCopsMessage, decodeSipAaaClientSi } from "../../protocols/cops/index.js";
import { parseSipMessage, type SipRequest, type SipResponse } from "../../protocols/sip/index.js";
import { killStartedProcesses, spawnCli } from "../support/cli-process.js";
import { freePort, sippPath } from "./sip-sipp-helpers.js";
import { dissect, runScenario, startCapture } from "./sipp-softphone-helpers.js";

afterAll(() => killStartedProcesses());

describe("glare through callgate lab --reinvites", () => {
  it("SIPp's re-INVITE crosses the lab callee's hold: both 491, ACKed and relayed on every hop, the callee retries within 2 s, both proxies end on the agreed hold", async () => {
    expect(sippPath(), "sipp (Debian sip-tester) must be installed").toBeTruthy();
    const record = join(mkdtempSync(join(tmpdir(), "callgate-lab-glare-")), "lab.jsonl");
    const sipPort = await freePort();
    const lab = spawnCli("lab", ["--sip-port", String(sipPort), "--answer-delay", "100", "--reinvites", "[{by: callee, afterMs: 500, hold: true}]", "--record", record]);
    await lab.waitFor("SIGTERM stops the lab", { ms: 30_000, stream: "stdout" });
    const ports = ["SIP1", "SIP2", "UAS"].map((role) => Number(new RegExp(`^\\s+${role}\\s+sip 127\\.0\\.0\\.1:(\\d+)`, "m").exec(lab.stdout())?.[1]));
    expect(ports.every((p) => p > 0), lab.stdout()).toBe(true);
    const capture = await startCapture(ports);
    const run = await runScenario("glare.xml", `127.0.0.1:${sipPort}`, await freePort(), "glare");
    expect(run.errors, "glare: SIPp errors").toBe("");
    expect(run.successful, run.stdout.slice(-1500)).toBe(1);
    expect(run.code).toBe(0);
    // the lab's BYE to SIPp's hang-up and the policy servers' reports are done once the record file holds them
    await capture.stop();
    expect(await lab.stop("SIGINT")).toBe(0);
    expect(lab.stdout()).toContain("every answered call ended");

    const records: MessageRecord[] = mergeRecordFiles([record]);
    const sip = records.filter((r) => r.proto === "SIP" && r.callId.startsWith("glare-"));
    const refused = sip.filter((r) => r.msg.startsWith("491"));
    // the UAS's 491 to SIPp's re-INVITE goes up to SIPp; SIPp's to the UAS's goes down to the UAS; once each
    expect(refused.map((r) => `${r.from}>${r.to}`).sort()).toEqual(["SIP1>SIP2", "SIP1>UAC", "SIP2>SIP1", "SIP2>UAS", "UAC>SIP1", "UAS>SIP2"]);
    // RFC 3261 §17.1.1.3: the ACK of a non-2xx is sent by each hop that received it
    for (const r of refused) {
      const cseq = (parseSipMessage(r.bytes) as SipResponse).cseq.seq;
      expect(sip.some((a) => a.msg === "ACK" && a.from === r.to && a.to === r.from && (parseSipMessage(a.bytes) as SipRequest).cseq.seq === cseq), `${r.from}>${r.to}`).toBe(true);
    }
    // §14.1: the UAS sends its offer again 0-2 s after the 491 reached it, and SIPp answers it 200
    const toUas = refused.find((r) => r.to === "UAS")!;
    const retry = sip.find((r) => r.from === "UAS" && r.msg === "INVITE" && r.t > toUas.t);
    expect(retry).toBeDefined();
    expect(retry!.t - toUas.t).toBeLessThanOrEqual(2100);
    const retryCseq = (parseSipMessage(retry!.bytes) as SipRequest).cseq.seq;
    expect(sip.some((r) => r.from === "UAC" && r.msg.startsWith("200") && (parseSipMessage(r.bytes) as SipResponse).cseq.seq === retryCseq)).toBe(true);
    for (const [proxy, pol] of [["SIP1", "POL1"], ["SIP2", "POL2"]] as const) {
      const asked = records.flatMap((r, i) => {
        if (r.proto !== "COPS" || r.from !== proxy || r.msg !== "REQ LDP" || !r.callId.startsWith("glare-")) return [];
        const m = decodeCopsMessage(r.bytes);
        return m.op === "REQ" ? [{ i, flows: decodeSipAaaClientSi(m.clientSi[0]!.data).flows.length }] : [];
      });
      const last = asked.at(-1)!;
      expect(last.flows, proxy).toBe(1); // the callee sends, held
      const dec = records.find((r, i) => i > last.i && r.proto === "COPS" && r.from === pol && r.to === proxy && r.msg.startsWith("DEC"));
      expect(dec?.msg, proxy).toBe("DEC LDP");
      const m = decodeCopsMessage(dec!.bytes);
      expect(m.op === "DEC" && m.decisions[0]?.command, proxy).toBe(1);
    }
    // one usage record per side, and every classifier installed was removed
    expect(records.filter((r) => r.proto === "OSP" && r.msg === "UsageIndication" && r.callId.startsWith("glare-")).map((r) => r.from).sort()).toEqual(["POL1", "POL2"]);
    for (const [pol, router] of [["POL1", "R1"], ["POL2", "R2"]] as const) {
      const decs = records.filter((r) => r.proto === "COPS" && r.callId.startsWith("glare-") && r.from === pol && r.to === router).map((r) => r.msg);
      expect(decs.filter((m) => m === "DEC Remove").length, router).toBe(decs.filter((m) => m === "DEC Install").length);
    }
    const d = dissect(capture.file, ports);
    expect(d.flagged).toEqual([]);
    expect(d.messages.map((m) => `${m.label}/${m.cseqMethod}`)).toContain("491/INVITE");
  }, 60_000);
});
