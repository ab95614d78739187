// sip.js 0.21 UserAgent (Node, WebSocket from `ws`) → callgate proxy WebSocket listener → SIPp UAS over UDP:
// the call is answered and hung up by sip.js; tshark then dissects a capture of it (RFC 7118 interop).
import { spawn } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { nextHopHook, startProxyServer } from "../../protocols/sip/index.js";
import { freePort, sippPath, startSipp, waitForListener, workDir } from "./sip-sipp-helpers.js";

// sip.js's Web transport opens `new WebSocket(url, "sip")` from the global scope.
(globalThis as { WebSocket?: unknown }).WebSocket ??= WebSocket;

const OFFER = ["v=0", "o=- 1 1 IN IP4 127.0.0.1", "s=-", "c=IN IP4 127.0.0.1", "t=0 0", "m=audio 6010 RTP/AVP 0", "a=rtpmap:0 PCMU/8000", ""].join("\r\n");

/** Media-less session description handler: offers fixed SDP, accepts any answer. */
function fakeSdhFactory() {
  return () => ({
    close: () => undefined,
    getDescription: () => Promise.resolve({ body: OFFER, contentType: "application/sdp" }),
    hasDescription: (ct: string) => ct === "application/sdp",
    setDescription: () => Promise.resolve(),
    sendDtmf: () => false,
  });
}


function run(cmd: string, args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    p.stdout.on("data", (d: Buffer) => (out += d.toString()));
    p.stderr.on("data", (d: Buffer) => (err += d.toString()));
    p.on("close", (code) => resolve({ code, out, err }));
  });
}

describe("sip.js over WebSocket through the callgate proxy", () => {
  it("places a call to a SIPp UAS, which is answered, then hangs up; tshark finds no malformed packet", async () => {
    expect(sippPath(), "sipp must be installed").toBeTruthy();
    const { execFileSync } = await import("node:child_process");
    const tshark = (() => {
      try {
        return execFileSync("sh", ["-c", "command -v tshark"], { encoding: "utf8" }).trim();
      } catch {
        return "";
      }
    })();
    expect(tshark, "tshark must be installed").not.toBe("");
    const dir = workDir("callgate-sipjs-");
    const uasPort = await freePort();
    const wsPort = await freePort();
    const udpPort = await freePort();
    const pcap = join(dir, "call.pcapng");
    const capture = spawn(tshark, ["-i", "lo", "-f", `port ${wsPort} or port ${udpPort} or port ${uasPort}`, "-w", pcap], { stdio: ["ignore", "ignore", "pipe"] });
    let captureLog = "";
    capture.stderr!.on("data", (d: Buffer) => (captureLog += d.toString()));
    const server = await startProxyServer({
      listen: [
        { protocol: "ws", host: "127.0.0.1", port: wsPort },
        { protocol: "udp", host: "127.0.0.1", port: udpPort },
      ],
      hook: nextHopHook({ protocol: "udp", host: "127.0.0.1", port: uasPort }),
    });
    const uas = startSipp(["-sn", "uas", "-i", "127.0.0.1", "-p", String(uasPort), "-m", "1", "-nostdin"], dir);
    try {
      // Wait until the capture is running: "Capturing on" comes before the filter is set, "Capture started" after.
      const deadline = Date.now() + 15_000;
      while (!captureLog.includes("Capture started") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(captureLog).toContain("Capture started");
      await waitForListener(uasPort, "udp");
      const { UserAgent, Inviter, SessionState } = await import("sip.js");
      const ua = new UserAgent({
        uri: UserAgent.makeURI("sip:alice@example.com"),
        transportOptions: { server: `ws://127.0.0.1:${wsPort}` },
        sessionDescriptionHandlerFactory: fakeSdhFactory() as never,
        logBuiltinEnabled: false,
      });
      await ua.start();
      const target = UserAgent.makeURI(`sip:service@127.0.0.1:${uasPort}`)!;
      const inviter = new Inviter(ua, target);
      const states: string[] = [];
      const established = new Promise<void>((resolve, reject) => {
        inviter.stateChange.addListener((s) => {
          states.push(s);
          if (s === SessionState.Established) resolve();
          if (s === SessionState.Terminated) reject(new Error(`call ended before answer: ${states.join(" → ")}`));
        });
      });
      await inviter.invite();
      await established;
      const terminated = new Promise<void>((resolve) =>
        inviter.stateChange.addListener((s) => {
          if (s === SessionState.Terminated) resolve();
        }),
      );
      // sip.js hangs up; the 200 to its BYE must come back through the proxy over the WebSocket.
      const byeStatus = await new Promise<number>((resolve, reject) => {
        inviter
          .bye({
            requestDelegate: {
              onAccept: (r) => resolve(r.message.statusCode ?? 0),
              onReject: (r) => resolve(r.message.statusCode ?? 0),
            },
          })
          .catch(reject);
      });
      expect(byeStatus).toBe(200);
      await terminated;
      expect(states[0]).toBe(SessionState.Establishing);
      expect(states).toContain(SessionState.Established);
      expect(states[states.length - 1]).toBe(SessionState.Terminated);
      await ua.stop();
      const uasRun = await uas.done;
      expect(uasRun.code).toBe(0); // SIPp UAS saw its one call complete
    } finally {
      uas.child.kill("SIGTERM");
      await server.close();
      await new Promise((r) => setTimeout(r, 500));
      capture.kill("SIGINT");
      await new Promise((r) => capture.once("close", r));
    }
    // Dissect: WebSocket port as HTTP (→ WebSocket → SIP), UDP ports as SIP.
    const decode = ["-d", `tcp.port==${wsPort},http`, "-d", `udp.port==${udpPort},sip`, "-d", `udp.port==${uasPort},sip`];
    const sip = await run(tshark, ["-r", pcap, ...decode, "-Y", "sip", "-T", "fields", "-e", "sip.Method", "-e", "sip.Status-Code"]);
    const lines = sip.out.trim().split("\n").filter(Boolean);
    expect(lines.some((l) => l.startsWith("INVITE"))).toBe(true);
    expect(lines.some((l) => l.startsWith("BYE"))).toBe(true);
    // Both 200s (INVITE, BYE) on both legs: 4 in all, plus the INVITE and BYE on each leg.
    expect(lines.filter((l) => l.trim() === "200")).toHaveLength(4);
    expect(lines.filter((l) => l.startsWith("INVITE"))).toHaveLength(2);
    expect(lines.filter((l) => l.startsWith("BYE"))).toHaveLength(2);
    expect(lines.filter((l) => l.startsWith("ACK"))).toHaveLength(2);
    const malformed = await run(tshark, ["-r", pcap, ...decode, "-Y", "_ws.malformed"]);
    expect(malformed.out.trim()).toBe("");
    // Expert items of severity warning and above. The kernel's own TCP sequence analysis (a loopback
    // retransmission on a loaded machine) is not about what we sent; everything else must be clean.
    const expert = await run(tshark, ["-r", pcap, ...decode, "-q", "-z", "expert,warn"]);
    const items = expert.out
      .split("\n")
      .map((l) => /^\s+(\d+)\s+(\S+)\s+(\S+)\s+(.+)$/.exec(l))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => ({ group: m[2]!, protocol: m[3]!, summary: m[4]! }));
    expect(items.filter((i) => !(i.protocol === "TCP" && i.group === "Sequence"))).toEqual([]);
  });
});
