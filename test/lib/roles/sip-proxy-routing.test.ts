// The flow's SipProxy as a proxy among others (RFC 3261 §16): its Via and Record-Route name its listener, a Route
// naming it is removed (§16.4), the §16.3 checks answer loops and exhausted Max-Forwards, and the top Via of what
// it receives is stamped with the source (RFC 3581 §4).
import { describe, expect, it } from "vitest";
import type { NodeAction } from "../../../lib/drivers/node.js";
import { buildTopology, resolveTopology } from "../../../lib/flow/topology.js";
import type { SipProxy } from "../../../lib/roles/sip-proxy.js";
import { loopDetectionHash, parseSipMessage, parseViaValue, proxyBranch, SipRequest, type SipResponse } from "../../../protocols/sip/index.js";

const LISTENER = { host: "127.0.0.1", port: 5071, transport: "UDP" as const };
const SOURCE = { host: "127.0.0.1", port: 40123 };

function request(lines: string[]): Buffer {
  return Buffer.from([...lines, "Content-Length: 0", "", ""].join("\r\n"));
}

function invite(extra: string[], maxForwards = 70): Buffer {
  return request([
    "INVITE sip:+15557654321@sip2.example.com SIP/2.0",
    ...extra,
    "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKuac1;rport",
    `Max-Forwards: ${maxForwards}`,
    "From: <sip:+15551234567@sip1.example.com>;tag=f1",
    "To: <sip:+15557654321@sip2.example.com>",
    "Call-ID: routing-1@192.0.2.10",
    "CSeq: 1 INVITE",
  ]);
}

function sent(actions: NodeAction[]): { to: string; message: ReturnType<typeof parseSipMessage> }[] {
  return actions.flatMap((a) => (a.type === "send" && a.proto === "SIP" ? [{ to: a.to, message: parseSipMessage(a.bytes) }] : []));
}

async function startedProxy(): Promise<SipProxy> {
  const topo = buildTopology(resolveTopology({ clearinghouse: "none" }), []);
  await topo.sip1.handle({ type: "start", now: 0, sip: LISTENER });
  return topo.sip1;
}

describe("SipProxy (flow role) among other proxies", () => {
  it("names its listener in Record-Route and asks for rport in its Via", async () => {
    const sip1 = await startedProxy();
    expect(sip1.sipUri).toBe("sip:127.0.0.1:5071;lr");
    sip1.setPeerHosts({ SIP2: "127.0.0.1:5072" });
    // An in-dialog BYE of a call it does not hold follows its Route set (§16.6 step 7), its own Route removed (§16.4).
    const bye = request([
      "BYE sip:+15557654321@192.0.2.20 SIP/2.0",
      "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKbye1;rport",
      "Max-Forwards: 70",
      "Route: <sip:127.0.0.1:5071;lr>, <sip:127.0.0.1:5072;lr>",
      "From: <sip:+15551234567@sip1.example.com>;tag=f1",
      "To: <sip:+15557654321@sip2.example.com>;tag=t1",
      "Call-ID: routing-2@192.0.2.10",
      "CSeq: 2 BYE",
    ]);
    const out = sent(await sip1.handle({ type: "deliver", now: 1, proto: "SIP", from: "UAC", bytes: bye, source: SOURCE }));
    expect(out.map((s) => s.to)).toEqual(["SIP2"]);
    const fwd = out[0]!.message as SipRequest;
    expect(fwd.getHeaders("Route")).toEqual(["<sip:127.0.0.1:5072;lr>"]);
    const [ours, theirs] = fwd.getHeaders("Via").map((v) => parseViaValue(v)[0]!);
    expect(ours).toMatchObject({ transport: "UDP", host: "127.0.0.1", port: 5071, rport: true });
    expect(ours!.branch?.startsWith("z9hG4bK")).toBe(true);
    // RFC 3581 §4: the caller's Via says where its request came from.
    expect(theirs).toMatchObject({ host: "192.0.2.10", port: 5060, received: "127.0.0.1", rport: 40123 });
    expect(fwd.maxForwards).toBe(69);
  });

  it("answers 483 to an INVITE with Max-Forwards 0, its Via stamped with the source (§16.3 step 3, RFC 3581 §4)", async () => {
    const sip1 = await startedProxy();
    const out = sent(await sip1.handle({ type: "deliver", now: 1, proto: "SIP", from: "UAC", bytes: invite([], 0), source: SOURCE }));
    expect(out.map((s) => `${s.to} ${(s.message as SipResponse).status}`)).toEqual(["UAC 100", "UAC 483"]);
    const via = parseViaValue((out[1]!.message as SipResponse).getHeaders("Via")[0]!)[0]!;
    expect(via).toMatchObject({ received: "127.0.0.1", rport: 40123 });
    expect(sip1.activeCalls).toBe(0);
  });

  it("answers 482 to an INVITE that already passed it (§16.3 step 4: its Via with the same loop hash)", async () => {
    const sip1 = await startedProxy();
    const probe = parseSipMessage(invite([])) as SipRequest;
    const looped = proxyBranch(loopDetectionHash(probe), 0, "earlier.");
    const bytes = request([
      "INVITE sip:+15557654321@sip2.example.com SIP/2.0",
      "Via: SIP/2.0/UDP 127.0.0.1:5090;branch=z9hG4bKforeign1",
      `Via: SIP/2.0/UDP 127.0.0.1:5071;branch=${looped};rport=5071`,
      "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKuac1;rport=5060",
      "Max-Forwards: 68",
      "From: <sip:+15551234567@sip1.example.com>;tag=f1",
      "To: <sip:+15557654321@sip2.example.com>",
      "Call-ID: routing-1@192.0.2.10",
      "CSeq: 1 INVITE",
    ]);
    const out = sent(await sip1.handle({ type: "deliver", now: 1, proto: "SIP", from: "SIP2", bytes }));
    expect(out.map((s) => (s.message as SipResponse).status)).toEqual([100, 482]);
    expect(sip1.activeCalls).toBe(0);
    // A spiral (the same request with another Request-URI) is not a loop: it is held for REQ AAA like any call.
    const spiral = Buffer.from(bytes.toString("latin1").replace("INVITE sip:+15557654321@sip2.example.com", "INVITE sip:+15550000000@sip2.example.com").replace("z9hG4bKforeign1", "z9hG4bKforeign2"), "latin1");
    const again = sent(await sip1.handle({ type: "deliver", now: 2, proto: "SIP", from: "SIP2", bytes: spiral }));
    expect(again.map((s) => (s.message as SipResponse).status)).toEqual([100]);
    expect(sip1.activeCalls).toBe(1);
  });
});
