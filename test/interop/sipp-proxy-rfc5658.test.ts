// RFC 5658 through `callgate proxy` (its own process): SIPp calls in over UDP, the proxy forwards over TCP to a SIPp
// UAS. The INVITE carries two Record-Route values, each naming the proxy's listener of its side; the caller's ACK
// and BYE follow the Route set they make (RFC 3261 §12.2.1.1) and the proxy takes both off as its own (§16.4).
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { findFile, freePort, readSippScreen, readSippStats, sippPath, startCliProxy, startSipp, waitForListener, workDir } from "./sip-sipp-helpers.js";

const CALLS = 20;

/** A literal as a regular expression inside an XML attribute. */
const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** The UAS (TCP side): the INVITE must carry both Record-Route values, and the BYE no Route left. */
function uasScenario(rr: string[]): string {
  return `<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="RFC 5658 UAS">
  <recv request="INVITE" crlf="true">
    <action>
      <ereg regexp="${esc(`Record-Route: ${rr[0]}`)}\\r?\\nRecord-Route: ${esc(rr[1]!)}" search_in="msg" check_it="true" assign_to="rr"/>
    </action>
  </recv>
  <send>
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_Record-Route:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
      Content-Length: 0

    ]]>
  </send>
  <recv request="ACK" crlf="true">
    <action>
      <ereg regexp="\\r\\nRoute:" search_in="msg" check_it_inverse="true" assign_to="r1"/>
    </action>
  </recv>
  <recv request="BYE">
    <action>
      <ereg regexp="\\r\\nRoute:" search_in="msg" check_it_inverse="true" assign_to="r2"/>
    </action>
  </recv>
  <send>
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

    ]]>
  </send>
  <Reference variables="rr,r1,r2"/>
</scenario>
`;
}

/** The UAC (UDP side): the 200 carries both values; ACK and BYE go with the Route set they make. */
function uacScenario(rr: string[]): string {
  return `<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="RFC 5658 UAC">
  <send retrans="500">
    <![CDATA[
      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: <sip:sipp@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="200" rrs="true">
    <action>
      <ereg regexp="${esc(rr[0]!)}.*${esc(rr[1]!)}" search_in="msg" check_it="true" assign_to="rr"/>
    </action>
  </recv>
  <send>
    <![CDATA[
      ACK [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      [routes]
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
      From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      [routes]
      Call-ID: [call_id]
      CSeq: 2 BYE
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <recv response="200" crlf="true"/>
  <Reference variables="rr"/>
</scenario>
`;
}

describe("RFC 5658 through `callgate proxy`: UDP in, TCP out", () => {
  it(`${CALLS} calls: both Record-Route values on the INVITE and the 200, ACK and BYE routed through both and taken off`, async () => {
    expect(sippPath(), "sipp (Debian sip-tester) must be installed").toBeTruthy();
    const [udpPort, tcpPort, uasPort, uacPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
    // RFC 5658 §3.2: the outbound (TCP) side's value on top, then the inbound (UDP) side's.
    const rr = [`<sip:127.0.0.1:${tcpPort};transport=tcp;lr>`, `<sip:127.0.0.1:${udpPort};lr>`];
    const dir = workDir("callgate-rfc5658-");
    writeFileSync(join(dir, "uas.xml"), uasScenario(rr));
    writeFileSync(join(dir, "uac.xml"), uacScenario(rr));
    const proxy = await startCliProxy(["--listen", `udp:127.0.0.1:${udpPort}`, "--listen", `tcp:127.0.0.1:${tcpPort}`, "--next-hop", `tcp:127.0.0.1:${uasPort}`]);
    const common = ["-i", "127.0.0.1", "-nostdin", "-trace_stat", "-fd", "1", "-trace_screen", "-trace_err", "-m", String(CALLS)];
    const uasDir = workDir("callgate-rfc5658-uas-");
    const uas = startSipp(["-sf", join(dir, "uas.xml"), "-t", "t1", "-p", String(uasPort), ...common], uasDir);
    let stopped = false;
    try {
      await waitForListener(uasPort, "tcp");
      const uacDir = workDir("callgate-rfc5658-uac-");
      const uac = startSipp(["-sf", join(dir, "uac.xml"), "-t", "u1", `127.0.0.1:${udpPort}`, "-p", String(uacPort), "-r", "10", ...common], uacDir);
      const uacRun = await uac.done;
      const uasRun = await Promise.race([uas.done, new Promise<undefined>((r) => setTimeout(() => r(undefined), 20_000))]);
      const stats = readSippStats(findFile(uacDir, ".csv"));
      const uasStats = readSippStats(findFile(uasDir, ".csv"));
      const screen = readSippScreen(findFile(uacDir, "_screen.log"));
      const proxyStats = await proxy.stop();
      stopped = true;
      expect(stats["SuccessfulCall(C)"], uacRun.stderr).toBe(String(CALLS));
      expect(stats["FailedCall(C)"]).toBe("0");
      // The UAS's checks (both values on the INVITE, no Route on ACK and BYE) fail its calls when they do not hold.
      expect(uasStats["SuccessfulCall(C)"]).toBe(String(CALLS));
      expect(uasStats["FailedCall(C)"]).toBe("0");
      expect(screen.unexpected).toBe(0);
      expect(uacRun.code).toBe(0);
      expect(uasRun?.code).toBe(0);
      expect(proxyStats).toMatchObject({ malformedDatagrams: 0, malformedStreams: 0, badRequests: 0 });
    } finally {
      uas.child.kill("SIGTERM");
      if (!stopped) proxy.child.kill("SIGKILL");
    }
  }, 120_000);
});
