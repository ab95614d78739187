// SIPp calls into `callgate lab` over TCP (RFC 3261 §18: a proxy takes UDP and TCP on its port): 500 calls,
// none failed, answered on the caller's connection; and a SIPp caller that keeps the dialog's route set (rrs)
// finds only URIs it can reach there (SIP1's and SIP2's listeners), and its ACK and BYE pass both proxies by it.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { startLab } from "../../lib/flow/lab.js";
import { parseNameAddr, parseSipMessage, type SipRequest } from "../../protocols/sip/index.js";
import { findFile, freePort, readSippScreen, readSippStats, sippPath, startSipp, workDir } from "./sip-sipp-helpers.js";

const CALLS = 500;

/** SIPp's uac, keeping the Record-Route of the 200 (rrs) and sending ACK and BYE along it (RFC 3261 §12.2.1.1). */
const UAC_WITH_ROUTE_SET = `<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="uac keeping the route set">
  <send retrans="500">
    <![CDATA[
      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: sut <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: sip:sipp@[local_ip]:[local_port];transport=[transport]
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0
      a=rtpmap:0 PCMU/8000

    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="200" rrs="true"/>
  <send>
    <![CDATA[
      ACK [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      [routes]
      From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: sut <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <pause milliseconds="100"/>
  <send retrans="500">
    <![CDATA[
      BYE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      [routes]
      From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: sut <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 2 BYE
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <recv response="200" crlf="true"/>
</scenario>
`;

describe("callgate lab takes SIPp over TCP", () => {
  it(`${CALLS} SIPp calls over one TCP connection: every one answered and ended, 0 failed`, { timeout: 180_000 }, async () => {
    expect(sippPath(), "sipp (Debian sip-tester) must be installed").toBeTruthy();
    const errors: string[] = [];
    const sipPort = await freePort();
    const lab = await startLab({ sipPort, answerDelayMs: 20, onError: (where, err) => errors.push(`${where}: ${String(err)}`) });
    try {
      const dir = workDir("callgate-lab-sipp-tcp-");
      const sipp = startSipp(
        ["-sn", "uac", "-t", "t1", "-m", String(CALLS), "-r", "40", "-l", "40", "-s", "15551234567", `127.0.0.1:${sipPort}`, "-i", "127.0.0.1", "-p", String(await freePort()), "-nostdin", "-timeout", "150", "-trace_stat", "-trace_screen", "-fd", "1"],
        dir,
      );
      const run = await sipp.done;
      const stats = readSippStats(findFile(dir, ".csv"));
      expect(stats["SuccessfulCall(C)"], run.stderr).toBe(String(CALLS));
      expect(stats["FailedCall(C)"]).toBe("0");
      expect(run.code).toBe(0);
      // Over TCP nothing is sent twice by SIPp, and nothing reached it it did not expect.
      const screen = readSippScreen(findFile(dir, "_screen.log"));
      expect(screen.unexpected).toBe(0);
      await new Promise((r) => setTimeout(r, 500));
      const s = lab.stats();
      expect(s.callsFromOutside).toBe(CALLS);
      // Only 200s; more than one per call where the callee's 2xx was sent again before its ACK (RFC 3261 §13.3.1.4).
      expect(Object.keys(s.finalsToCaller)).toEqual(["200 OK"]);
      expect(s.finalsToCaller["200 OK"]).toBeGreaterThanOrEqual(CALLS);
      expect(s.callsNotEnded).toEqual([]);
      expect(lab.topology.sip1.activeCalls + lab.topology.sip2.activeCalls).toBe(0);
      expect(errors).toEqual([]);
    } finally {
      await lab.close();
    }
  });

  it("a caller keeping the route set (SIPp rrs) gets reachable URIs only, and its ACK and BYE pass both proxies", { timeout: 60_000 }, async () => {
    const sipPort = await freePort();
    const lab = await startLab({ sipPort, answerDelayMs: 20, keepRecords: true });
    try {
      const dir = workDir("callgate-lab-sipp-rrs-");
      writeFileSync(join(dir, "uac-rrs.xml"), UAC_WITH_ROUTE_SET);
      const calls = 20;
      const run = await startSipp(
        ["-sf", "uac-rrs.xml", "-t", "t1", "-m", String(calls), "-r", "10", "-s", "15551234567", `127.0.0.1:${sipPort}`, "-i", "127.0.0.1", "-p", String(await freePort()), "-nostdin", "-timeout", "50", "-trace_stat", "-fd", "1"],
        dir,
      ).done;
      const stats = readSippStats(findFile(dir, ".csv"));
      expect(stats["SuccessfulCall(C)"], run.stderr).toBe(String(calls));
      expect(stats["FailedCall(C)"]).toBe("0");
      await new Promise((r) => setTimeout(r, 300));
      const sip2 = lab.endpoints.SIP2?.sip ?? "";
      expect(sip2).toMatch(/^127\.0\.0\.1:\d+$/);
      const byes = lab.records.filter((r) => r.from === "UAC" && r.msg === "BYE");
      expect(byes).toHaveLength(calls);
      for (const bye of byes) {
        // The route set is the 200's Record-Route in order: SIP1's listeners (the caller's TCP side, then the UDP side
        // toward SIP2: RFC 5658 §4, the transport changes there), then SIP2's; all bound by the lab.
        const routes = (parseSipMessage(bye.bytes) as SipRequest).getHeaders("Route").map((v) => parseNameAddr(v, "Route").uri);
        expect(routes.map((u) => (typeof u === "string" ? u : `${u.host}:${u.port ?? ""};${u.params.has("transport") ? `transport=${String(u.params.get("transport"))};` : ""}lr=${u.params.has("lr")}`))).toEqual([`127.0.0.1:${sipPort};transport=tcp;lr=true`, `127.0.0.1:${sipPort};lr=true`, `${sip2};lr=true`]);
        const after = lab.records.filter((r) => r.callId === bye.callId);
        expect(after.some((r) => r.from === "SIP1" && r.to === "SIP2" && r.msg === "BYE")).toBe(true);
        expect(after.some((r) => r.from === "SIP2" && r.to === "UAS" && r.msg === "BYE")).toBe(true);
        expect(after.some((r) => r.from === "SIP2" && r.to === "UAS" && r.msg === "ACK")).toBe(true);
      }
      expect(lab.records.filter((r) => r.from === "SIP1" && r.to === "UAC").every((r) => r.transport?.kind === "tcp")).toBe(true);
    } finally {
      await lab.close();
    }
  });
});
