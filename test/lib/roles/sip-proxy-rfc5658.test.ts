// The FIG. 5/6 SipProxy where a dialog crosses transports (RFC 5658): the caller's hop over UDP, the proxies' over TCP.
// The driver names the transport each message came in on; the proxy core then record-routes twice at SIP1, once
// per side (§4), and the dialog's later requests pass SIP1 by both values. In memory, and at the role itself.
import { describe, expect, it } from "vitest";
import type { NodeAction } from "../../../lib/drivers/node.js";
import { runCalls, type CallSpec } from "../../../lib/flow/run-calls.js";
import { buildTopology, resolveTopology } from "../../../lib/flow/topology.js";
import { parseSipMessage, parseViaValue, type SipRequest } from "../../../protocols/sip/index.js";
import { checkLadder, mirrored, splitCall } from "../flow/ladder-helpers.js";

const call: CallSpec = { caller: "sip:alice@example.com", callee: "sip:bob@example.com", startMs: 100, answerDelayMs: 500, durationMs: 2000, hangUp: "caller" };

const sipOf = (bytes: Buffer): SipRequest => parseSipMessage(bytes) as SipRequest;

describe("SipProxy record-routes twice where the transport changes (RFC 5658), in memory", () => {
  it("UAC over UDP, SIP1–SIP2 over TCP: two Record-Route values at SIP1, ACK and BYE pass by them, ladders FIG. 5 / FIG. 6, nothing left", async () => {
    const result = await runCalls({ driver: "memory", topology: { sipTransport: "tcp", userAgentTransports: { UAC: "udp" } }, calls: [call] });
    const callId = result.calls[0]?.callId ?? "";
    expect(result.calls[0]?.finalStatusAtCaller).toBe(200);
    const invite = result.records.find((r) => r.from === "SIP1" && r.to === "SIP2" && r.msg === "INVITE");
    const fwd = sipOf(invite!.bytes);
    // §4: the outbound side's value on top, the inbound side's below it; Via names the transport it leaves on.
    expect(fwd.getHeaders("Record-Route")).toEqual(["<sip:sip1.example.com;lr>", "<sip:sip1.example.com;transport=udp;lr>"]);
    expect(parseViaValue(fwd.getHeaders("Via")[0]!)[0]!.transport).toBe("TCP");
    // The UAC speaks UDP, SIP1 answers it over UDP; SIP2 forwards to the UAS over TCP (one Record-Route of its own).
    const atUas = sipOf(result.records.find((r) => r.from === "SIP2" && r.to === "UAS" && r.msg === "INVITE")!.bytes);
    expect(atUas.getHeaders("Record-Route")).toEqual(["<sip:sip2.example.com;lr>", "<sip:sip1.example.com;lr>", "<sip:sip1.example.com;transport=udp;lr>"]);
    const okToUac = result.records.find((r) => r.from === "SIP1" && r.to === "UAC" && r.msg.startsWith("200") && r.bytes.toString("latin1").includes("INVITE"));
    expect(parseViaValue(parseSipMessage(okToUac!.bytes).getHeaders("Via")[0]!)[0]!.transport).toBe("UDP");
    // The caller's ACK and BYE carry SIP1's two values and SIP2's as their Route set; SIP1 takes both of its own off.
    for (const method of ["ACK", "BYE"]) {
      const fromUac = sipOf(result.records.find((r) => r.from === "UAC" && r.msg === method)!.bytes);
      expect(fromUac.getHeaders("Route"), method).toEqual(["<sip:sip1.example.com;transport=udp;lr>", "<sip:sip1.example.com;lr>", "<sip:sip2.example.com;lr>"]);
      const relayed = sipOf(result.records.find((r) => r.from === "SIP1" && r.to === "SIP2" && r.msg === method)!.bytes);
      expect(relayed.getHeaders("Route"), method).toEqual(["<sip:sip2.example.com;lr>"]);
      expect(result.records.some((r) => r.from === "SIP2" && r.to === "UAS" && r.msg === method), method).toBe(true);
    }
    const { setup, teardown } = splitCall(result.records, callId);
    const s = checkLadder(setup, "setup");
    expect(s.output).toContain("all 28 steps");
    const t = checkLadder(teardown, "teardown");
    expect(t.output).toContain("all 18 steps");
    expect(result.leftovers).toEqual({ classifiers: 0, copsRequestStates: 0, pendingTransactions: 0 });
  });

  it("the callee's hop over UDP, the proxies' over TCP, callee hangs up: SIP2 record-routes twice, its BYE passes SIP2 and SIP1", async () => {
    const result = await runCalls({ driver: "memory", topology: { sipTransport: "tcp", userAgentTransports: { UAS: "udp" } }, calls: [{ ...call, hangUp: "callee" }] });
    const callId = result.calls[0]?.callId ?? "";
    const atUas = sipOf(result.records.find((r) => r.from === "SIP2" && r.to === "UAS" && r.msg === "INVITE")!.bytes);
    expect(atUas.getHeaders("Record-Route")).toEqual(["<sip:sip2.example.com;transport=udp;lr>", "<sip:sip2.example.com;lr>", "<sip:sip1.example.com;lr>"]);
    const bye = sipOf(result.records.find((r) => r.from === "UAS" && r.msg === "BYE")!.bytes);
    expect(bye.getHeaders("Route")).toEqual(["<sip:sip2.example.com;transport=udp;lr>", "<sip:sip2.example.com;lr>", "<sip:sip1.example.com;lr>"]);
    expect(result.records.some((r) => r.from === "SIP1" && r.to === "UAC" && r.msg === "BYE" && r.callId === callId)).toBe(true);
    const { setup, teardown } = splitCall(result.records, callId);
    expect(checkLadder(setup, "setup").output).toContain("all 28 steps");
    expect(checkLadder(mirrored(teardown), "teardown").output).toContain("all 18 steps");
    expect(result.leftovers).toEqual({ classifiers: 0, copsRequestStates: 0, pendingTransactions: 0 });
  });

  it("the reverse, the caller over TCP and the proxies over UDP: SIP1's UDP side on top, its TCP side below", async () => {
    const result = await runCalls({ driver: "memory", topology: { sipTransport: "udp", userAgentTransports: { UAC: "tcp" } }, calls: [call] });
    expect(result.calls[0]?.finalStatusAtCaller).toBe(200);
    const fwd = sipOf(result.records.find((r) => r.from === "SIP1" && r.to === "SIP2" && r.msg === "INVITE")!.bytes);
    expect(fwd.getHeaders("Record-Route")).toEqual(["<sip:sip1.example.com;lr>", "<sip:sip1.example.com;transport=tcp;lr>"]);
    expect(parseViaValue(sipOf(result.records.find((r) => r.from === "UAC" && r.msg === "INVITE")!.bytes).getHeaders("Via")[0]!)[0]!.transport).toBe("TCP");
    const bye = sipOf(result.records.find((r) => r.from === "SIP1" && r.to === "SIP2" && r.msg === "BYE")!.bytes);
    expect(bye.getHeaders("Route")).toEqual(["<sip:sip2.example.com;lr>"]);
    expect(result.leftovers).toEqual({ classifiers: 0, copsRequestStates: 0, pendingTransactions: 0 });
  });

  it("one transport everywhere: one Record-Route value per proxy, as before", async () => {
    for (const sipTransport of ["udp", "tcp"] as const) {
      const result = await runCalls({ driver: "memory", topology: { sipTransport }, calls: [call] });
      const atUas = sipOf(result.records.find((r) => r.from === "SIP2" && r.to === "UAS" && r.msg === "INVITE")!.bytes);
      expect(atUas.getHeaders("Record-Route"), sipTransport).toEqual(["<sip:sip2.example.com;lr>", "<sip:sip1.example.com;lr>"]);
    }
  });
});

describe("SipProxy on sockets: the arrival names the listener", () => {
  const sends = (actions: NodeAction[]): { to: string; message: SipRequest }[] =>
    actions.flatMap((a) => (a.type === "send" && a.proto === "SIP" ? [{ to: a.to, message: parseSipMessage(a.bytes) as SipRequest }] : []));

  it("an INVITE in over UDP and out over TCP carries both listeners' URIs; over one transport, one", async () => {
    const topo = buildTopology(resolveTopology({ clearinghouse: "none", sipTransport: "tcp", userAgentTransports: { UAC: "udp" } }), []);
    const sip1 = topo.sip1;
    const udp = { host: "127.0.0.1", port: 5071, transport: "UDP" as const };
    const tcp = { host: "127.0.0.1", port: 5072, transport: "TCP" as const };
    await sip1.handle({ type: "start", now: 0, sip: tcp, sipListeners: [udp, tcp] });
    // No policy server here: a SUBSCRIBE (dialog-creating, RFC 6665) of no call SIP1 holds follows its Route set to
    // SIP2 without asking one, and is record-routed like an INVITE (RFC 3261 §16.6 step 4).
    sip1.setPeerHosts({ SIP2: "127.0.0.1:5080" });
    const subscribe = Buffer.from(
      [
        "SUBSCRIBE sip:bob@127.0.0.1:5080 SIP/2.0",
        "Via: SIP/2.0/UDP 127.0.0.1:40000;branch=z9hG4bKsub1;rport",
        "Max-Forwards: 70",
        "Route: <sip:127.0.0.1:5071;lr>, <sip:127.0.0.1:5080;transport=tcp;lr>",
        "From: <sip:alice@example.com>;tag=f1",
        "To: <sip:bob@example.com>",
        "Call-ID: rfc5658-sub@127.0.0.1",
        "CSeq: 1 SUBSCRIBE",
        "Event: presence",
        "Content-Length: 0",
        "",
        "",
      ].join("\r\n"),
    );
    const out = sends(await sip1.handle({ type: "deliver", now: 1, proto: "SIP", from: "UAC", bytes: subscribe, source: { host: "127.0.0.1", port: 40000 }, arrival: { transport: "udp", listener: udp } }));
    expect(out.map((s) => s.to)).toEqual(["SIP2"]);
    const fwd = out[0]!.message;
    expect(fwd.getHeaders("Record-Route")).toEqual(["<sip:127.0.0.1:5072;transport=tcp;lr>", "<sip:127.0.0.1:5071;lr>"]);
    expect(fwd.getHeaders("Via")[0]).toMatch(/^SIP\/2\.0\/TCP 127\.0\.0\.1:5072;branch=/);
    // The same request in over TCP leaves over TCP: one value.
    const again = Buffer.from(subscribe.toString("latin1").replace("SIP/2.0/UDP 127.0.0.1:40000;branch=z9hG4bKsub1", "SIP/2.0/TCP 127.0.0.1:40001;branch=z9hG4bKsub2").replace("rfc5658-sub@", "rfc5658-sub2@"), "latin1");
    const one = sends(await sip1.handle({ type: "deliver", now: 2, proto: "SIP", from: "SIP2", bytes: again, source: { host: "127.0.0.1", port: 40001 }, arrival: { transport: "tcp", listener: tcp } }));
    expect(one[0]?.message.getHeaders("Record-Route")).toEqual(["<sip:127.0.0.1:5072;transport=tcp;lr>"]);
    // A Via that lies about the transport changes nothing: the driver's arrival decides (here UDP, so two values).
    const lying = Buffer.from(subscribe.toString("latin1").replace("SIP/2.0/UDP 127.0.0.1:40000;branch=z9hG4bKsub1", "SIP/2.0/TCP 127.0.0.1:40002;branch=z9hG4bKsub3").replace("rfc5658-sub@", "rfc5658-sub3@"), "latin1");
    const two = sends(await sip1.handle({ type: "deliver", now: 3, proto: "SIP", from: "UAC", bytes: lying, source: { host: "127.0.0.1", port: 40002 }, arrival: { transport: "udp", listener: udp } }));
    expect(two[0]?.message.getHeaders("Record-Route")).toEqual(["<sip:127.0.0.1:5072;transport=tcp;lr>", "<sip:127.0.0.1:5071;lr>"]);
  });
});
