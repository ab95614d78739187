import { describe, expect, it } from "vitest";
import type { ProxyRequestContext } from "../../../../protocols/sip/proxy/proxy-types.js";
import { SipRequest, SipResponse } from "../../../../protocols/sip/index.js";
import { ProxyHarness, PROXY, UAC, UAS_A, UAS_B, answer, invite } from "./harness.js";

const T1 = 500;

describe("stateful proxy: validation (RFC 3261 §16.3)", () => {
  it("answers Max-Forwards: 0 with 483 and forwards nothing", () => {
    const h = new ProxyHarness();
    h.inject(invite({ method: "OPTIONS", maxForwards: 0 }));
    expect(h.responsesTo(UAC.host).map((r) => r.status)).toEqual([483]);
    expect(h.requestsTo(UAS_A.host)).toHaveLength(0);
  });

  it("answers an unsupported Proxy-Require with 420 listing it in Unsupported", () => {
    const h = new ProxyHarness({ supportedExtensions: ["100rel"] });
    h.inject(invite({ method: "OPTIONS", extra: "Proxy-Require: 100rel, foo" }));
    const [r] = h.responsesTo(UAC.host);
    expect(r?.status).toBe(420);
    expect(r?.getHeader("Unsupported")).toBe("foo");
  });

  it("answers an unknown URI scheme with 416", () => {
    const h = new ProxyHarness();
    h.inject(invite({ method: "OPTIONS", uri: "http://example.com/x" }));
    expect(h.responsesTo(UAC.host).map((r) => r.status)).toEqual([416]);
  });

  it("detects a request that loops back through it (482) but lets a spiral through", () => {
    const h = new ProxyHarness({ hook: () => ({ action: "forward", targets: [{ nextHop: UAS_A }] }) });
    h.inject(invite({ method: "OPTIONS" }));
    const [forwarded] = h.requestsTo(UAS_A.host);
    expect(forwarded).toBeDefined();
    h.take();
    // The same request comes back to us (downstream sent it back): our Via is inside.
    const looped = forwarded!.clone();
    looped.addHeader("Via", "SIP/2.0/UDP 192.0.2.20:5060;branch=z9hG4bKdownstream", "top");
    h.inject(looped, UAS_A);
    expect(h.responsesTo(UAS_A.host).map((r) => r.status)).toEqual([482]);
    h.take();
    // A spiral (Request-URI changed downstream) is not a loop.
    const spiral = forwarded!.clone();
    spiral.uri = "sip:bob-mobile@example.com";
    spiral.addHeader("Via", "SIP/2.0/UDP 192.0.2.20:5060;branch=z9hG4bKdownstream2", "top");
    h.inject(spiral, UAS_A);
    expect(h.responsesTo(UAS_A.host)).toHaveLength(0);
    expect(h.requestsTo(UAS_A.host)).toHaveLength(1);
  });
});

describe("stateful proxy: forwarding (§16.6) and responses (§16.7)", () => {
  it("sends 100 Trying, forwards with Via, Record-Route and Max-Forwards-1, relays 180/200 without its Via", () => {
    const h = new ProxyHarness({ hook: () => ({ action: "forward", targets: [{ nextHop: UAS_A }] }) });
    h.inject(invite());
    expect(h.responsesTo(UAC.host).map((r) => r.status)).toEqual([100]);
    const [fwd] = h.requestsTo(UAS_A.host);
    expect(fwd!.maxForwards).toBe(69);
    expect(fwd!.via).toHaveLength(2);
    expect(fwd!.topVia.host).toBe(PROXY.host);
    expect(fwd!.topVia.branch?.startsWith("z9hG4bK")).toBe(true);
    expect(fwd!.getHeaders("Record-Route")).toEqual(["<sip:192.0.2.1:5060;lr>"]);
    h.take();
    h.inject(answer(fwd!, 180), UAS_A);
    h.inject(answer(fwd!, 200), UAS_A);
    const up = h.responsesTo(UAC.host);
    expect(up.map((r) => r.status)).toEqual([180, 200]);
    for (const r of up) {
      expect(r.via).toHaveLength(1);
      expect(r.topVia.host).toBe(UAC.host);
    }
    expect(up[1]!.getHeaders("Record-Route")).toEqual(["<sip:192.0.2.1:5060;lr>"]);
  });

  it("ACKs a non-2xx hop by hop and relays the final response once; the UAC's ACK is absorbed", () => {
    const h = new ProxyHarness({ hook: () => ({ action: "forward", targets: [{ nextHop: UAS_A }] }) });
    const inv = invite();
    h.inject(inv);
    const [fwd] = h.requestsTo(UAS_A.host);
    h.take();
    h.inject(answer(fwd!, 486), UAS_A);
    const ack = h.requestsTo(UAS_A.host);
    expect(ack.map((r) => r.method)).toEqual(["ACK"]);
    expect(ack[0]!.topVia.branch).toBe(fwd!.topVia.branch);
    const up = h.responsesTo(UAC.host);
    expect(up.map((r) => r.status)).toEqual([486]);
    h.take();
    const uacAck = new SipRequest("ACK", "sip:bob@example.com", [
      { name: "Via", value: up[0]!.getHeaders("Via")[0]! },
      { name: "Max-Forwards", value: "70" },
      { name: "From", value: up[0]!.getHeader("From")! },
      { name: "To", value: up[0]!.getHeader("To")! },
      { name: "Call-ID", value: up[0]!.callId },
      { name: "CSeq", value: `1 ACK` },
      { name: "Content-Length", value: "0" },
    ]);
    h.inject(uacAck);
    expect(h.take()).toHaveLength(0);
  });

  it("forks: a 6xx cancels the pending branch and wins over its 487", () => {
    const h = new ProxyHarness({
      hook: () => ({ action: "forward", targets: [{ nextHop: UAS_A }, { uri: "sip:bob@192.0.2.30", nextHop: UAS_B }] }),
    });
    h.inject(invite());
    const [a] = h.requestsTo(UAS_A.host);
    const [b] = h.requestsTo(UAS_B.host);
    expect(b!.uri).toBe("sip:bob@192.0.2.30");
    expect(a!.topVia.branch).not.toBe(b!.topVia.branch);
    h.take();
    h.inject(answer(a!, 180, "ta"), UAS_A);
    h.inject(answer(b!, 603, "tb"), UAS_B);
    const cancels = h.requestsTo(UAS_A.host).filter((r) => r.method === "CANCEL");
    expect(cancels).toHaveLength(1);
    expect(cancels[0]!.topVia.branch).toBe(a!.topVia.branch);
    expect(h.responsesTo(UAC.host).map((r) => r.status)).toEqual([180]);
    h.inject(answer(a!, 487, "ta"), UAS_A);
    expect(h.responsesTo(UAC.host).map((r) => r.status)).toEqual([180, 603]);
  });

  it("forks: the first 2xx goes up and cancels the other branch; a 2xx racing the CANCEL is relayed too", () => {
    const h = new ProxyHarness({ hook: () => ({ action: "forward", targets: [{ nextHop: UAS_A }, { nextHop: UAS_B }] }) });
    h.inject(invite());
    const [a] = h.requestsTo(UAS_A.host);
    const [b] = h.requestsTo(UAS_B.host);
    h.take();
    h.inject(answer(b!, 180, "tb"), UAS_B);
    h.inject(answer(a!, 200, "ta"), UAS_A);
    expect(h.requestsTo(UAS_B.host).map((r) => r.method)).toEqual(["CANCEL"]);
    h.inject(answer(b!, 200, "tb"), UAS_B); // B answered before our CANCEL reached it
    const up = h.responsesTo(UAC.host).filter((r) => r.cseq.method === "INVITE");
    expect(up.map((r) => `${r.status} ${r.to.tag}`)).toEqual(["180 tb", "200 ta", "200 tb"]);
    for (const r of up) expect(r.via).toHaveLength(1);
  });

  it("picks the lowest class when no 6xx, turns 503 into 500, and treats a silent branch as 408", () => {
    const h = new ProxyHarness({ hook: () => ({ action: "forward", targets: [{ nextHop: UAS_A }, { nextHop: UAS_B }] }) });
    h.inject(invite({ method: "OPTIONS" }));
    const [a] = h.requestsTo(UAS_A.host);
    h.take();
    h.inject(answer(a!, 503), UAS_A);
    expect(h.responsesTo(UAC.host)).toHaveLength(0);
    h.clock.advance(64 * T1); // branch B never answers: Timer F
    expect(h.responsesTo(UAC.host).map((r) => r.status)).toEqual([408]);

    const h2 = new ProxyHarness({ hook: () => ({ action: "forward", targets: [{ nextHop: UAS_A }] }) });
    h2.inject(invite({ method: "OPTIONS" }));
    const [a2] = h2.requestsTo(UAS_A.host);
    h2.inject(answer(a2!, 503), UAS_A);
    expect(h2.responsesTo(UAC.host).map((r) => r.status)).toEqual([500]);
  });

  it("aggregates 401/407 challenges from every branch", () => {
    const h = new ProxyHarness({ hook: () => ({ action: "forward", targets: [{ nextHop: UAS_A }, { nextHop: UAS_B }] }) });
    h.inject(invite({ method: "OPTIONS" }));
    const [a] = h.requestsTo(UAS_A.host);
    const [b] = h.requestsTo(UAS_B.host);
    h.inject(answer(a!, 401, "x", [{ name: "WWW-Authenticate", value: 'Digest realm="a.example.com", nonce="1"' }]), UAS_A);
    h.inject(answer(b!, 407, "y", [{ name: "Proxy-Authenticate", value: 'Digest realm="b.example.com", nonce="2"' }]), UAS_B);
    const [r] = h.responsesTo(UAC.host);
    expect(r!.status).toBe(401);
    expect(r!.getHeaders("WWW-Authenticate")).toHaveLength(1);
    expect(r!.getHeaders("Proxy-Authenticate")).toHaveLength(1);
  });

  it("does not forward a response whose last Via it removed (§16.7 step 3); its final counts as 502", () => {
    const errors: string[] = [];
    const h = new ProxyHarness({
      hook: () => ({ action: "forward", targets: [{ nextHop: UAS_A }] }),
      observer: { onError: (_ctx, err) => errors.push(err.message) },
    });
    h.inject(invite());
    const [fwd] = h.requestsTo(UAS_A.host);
    h.take();
    // A downstream element that dropped the upstream Via: only the proxy's own Via is left on its responses.
    const onlyOurVia = (r: ReturnType<typeof answer>): ReturnType<typeof answer> => {
      r.setHeader("Via", fwd!.getHeaders("Via")[0]!);
      return r;
    };
    h.inject(onlyOurVia(answer(fwd!, 180)), UAS_A);
    expect(h.responsesTo(UAC.host)).toHaveLength(0);
    h.inject(onlyOurVia(answer(fwd!, 486)), UAS_A);
    const up = h.responsesTo(UAC.host);
    expect(up.map((r) => r.status)).toEqual([502]);
    expect(up[0]!.via.map((v) => v.host)).toEqual([UAC.host]);
    expect(errors.filter((m) => m.includes("§16.7 step 3"))).toHaveLength(2);
    // Later only the 502 is retransmitted upstream (no ACK from the UAC here); Timer C went with the branch.
    h.take();
    h.clock.advance(200_000);
    expect(new Set(h.take().map((s) => `${s.to.host} ${s.message instanceof SipResponse ? s.message.status : s.message.method}`))).toEqual(
      new Set([`${UAC.host} 502`]),
    );
  });

  it("reports an unreachable next hop as 500 (503 from the branch, §16.9)", async () => {
    const h = new ProxyHarness({ hook: () => ({ action: "forward", targets: [{ nextHop: UAS_A }] }) });
    h.failDestinations.add(UAS_A.host);
    h.inject(invite({ method: "OPTIONS" }));
    await new Promise((r) => setImmediate(r));
    expect(h.responsesTo(UAC.host).map((r) => r.status)).toEqual([500]);
  });
});

describe("stateful proxy: the application hook", () => {
  it("holds an INVITE, then forwards it when the application says so", () => {
    let held: ProxyRequestContext | undefined;
    const h = new ProxyHarness({
      hook: (ctx) => {
        held = ctx;
        return { action: "hold" };
      },
    });
    h.inject(invite());
    expect(h.responsesTo(UAC.host).map((r) => r.status)).toEqual([100]);
    h.clock.advance(10_000);
    expect(h.requestsTo(UAS_A.host)).toHaveLength(0);
    held!.forward([{ nextHop: UAS_A }]);
    expect(h.requestsTo(UAS_A.host).map((r) => r.method)).toEqual(["INVITE"]);
  });

  it("an async hook can answer with a status and a Reason header", async () => {
    const h = new ProxyHarness({
      hook: async () => ({ action: "respond", status: 403, reason: "Policy Denied", headers: [{ name: "Reason", value: 'SIP;cause=403;text="no credit"' }] }),
    });
    h.inject(invite());
    await new Promise((r) => setImmediate(r));
    const finals = h.responsesTo(UAC.host).filter((r) => r.status >= 200);
    expect(finals.map((r) => [r.status, r.reason])).toEqual([[403, "Policy Denied"]]);
    expect(finals[0]!.getHeader("Reason")).toContain("no credit");
    expect(finals[0]!.to.tag).toBeDefined();
  });

  it("CANCEL of a held INVITE: 200 to the CANCEL, 487 to the INVITE, the hook's signal aborts", () => {
    let held: ProxyRequestContext | undefined;
    const h = new ProxyHarness({
      hook: (ctx) => {
        held = ctx;
        return { action: "hold" };
      },
    });
    const inv = invite();
    h.inject(inv);
    h.take();
    const cancel = inv.replace(/^INVITE /, "CANCEL ").replace("CSeq: 1 INVITE", "CSeq: 1 CANCEL");
    h.inject(cancel);
    const statuses = h.responsesTo(UAC.host).map((r) => `${r.status} ${r.cseq.method}`);
    expect(statuses.sort()).toEqual(["200 CANCEL", "487 INVITE"]);
    expect(held!.signal.aborted).toBe(true);
    held!.forward([{ nextHop: UAS_A }]);
    expect(h.requestsTo(UAS_A.host)).toHaveLength(0);
  });

  it("CANCEL of a forwarded INVITE is sent downstream after a provisional; the 487 comes back", () => {
    const h = new ProxyHarness({ hook: () => ({ action: "forward", targets: [{ nextHop: UAS_A }] }) });
    const inv = invite();
    h.inject(inv);
    const [fwd] = h.requestsTo(UAS_A.host);
    h.take();
    h.inject(inv.replace(/^INVITE /, "CANCEL ").replace("CSeq: 1 INVITE", "CSeq: 1 CANCEL"));
    expect(h.requestsTo(UAS_A.host)).toHaveLength(0); // no provisional yet (§9.1)
    h.inject(answer(fwd!, 180), UAS_A);
    const [c] = h.requestsTo(UAS_A.host).filter((r) => r.method === "CANCEL");
    expect(c!.topVia.branch).toBe(fwd!.topVia.branch);
    h.inject(answer(fwd!, 487), UAS_A);
    expect(h.responsesTo(UAC.host).map((r) => `${r.status} ${r.cseq.method}`)).toEqual(["200 CANCEL", "180 INVITE", "487 INVITE"]);
  });

  it("CANCEL without a matching INVITE is forwarded (§16.10) and the downstream's 481 comes back", () => {
    const h = new ProxyHarness({ hook: () => ({ action: "forward", targets: [{ nextHop: UAS_A }] }) });
    h.inject(invite({ method: "CANCEL" }));
    const [fwd] = h.requestsTo(UAS_A.host);
    expect(fwd?.method).toBe("CANCEL");
    expect(fwd!.maxForwards).toBe(69);
    expect(fwd!.topVia.host).toBe(PROXY.host);
    expect(h.responsesTo(UAC.host).filter((r) => r.status >= 200)).toHaveLength(0);
    h.inject(answer(fwd!, 481), UAS_A);
    expect(h.responsesTo(UAC.host).map((r) => `${r.status} ${r.cseq.method}`)).toEqual(["481 CANCEL"]);
  });

  it("CANCEL of an INVITE the proxy answered itself gets 200 and changes nothing (§9.2)", () => {
    const h = new ProxyHarness();
    const inv = invite({ maxForwards: 0 });
    h.inject(inv);
    expect(h.responsesTo(UAC.host).map((r) => r.status)).toEqual([100, 483]);
    h.take();
    h.inject(inv.replace(/^INVITE /, "CANCEL ").replace("CSeq: 1 INVITE", "CSeq: 1 CANCEL"));
    expect(h.responsesTo(UAC.host).map((r) => `${r.status} ${r.cseq.method}`)).toEqual(["200 CANCEL"]);
    expect(h.requestsTo(UAS_A.host)).toHaveLength(0);
  });

  it("a throwing hook yields 500", () => {
    const h = new ProxyHarness({
      hook: () => {
        throw new Error("boom");
      },
    });
    h.inject(invite({ method: "OPTIONS" }));
    expect(h.responsesTo(UAC.host).map((r) => r.status)).toEqual([500]);
  });
});

describe("stateful proxy: routing (§16.4, §16.12) and in-dialog requests", () => {
  it("removes its own Route entry and forwards to the next loose router without Record-Route", () => {
    const h = new ProxyHarness();
    h.inject(
      invite({
        method: "BYE",
        toTag: "b1",
        uri: "sip:bob@192.0.2.20:5060",
        extra: "Route: <sip:192.0.2.1:5060;lr>, <sip:192.0.2.30:5080;lr>",
      }),
    );
    const sent = h.take();
    expect(sent).toHaveLength(1);
    expect(sent[0]!.to).toEqual({ protocol: "udp", host: "192.0.2.30", port: 5080 });
    const fwd = sent[0]!.message as SipRequest;
    expect(fwd.uri).toBe("sip:bob@192.0.2.20:5060");
    expect(fwd.getHeaders("Route")).toEqual(["<sip:192.0.2.30:5080;lr>"]);
    expect(fwd.getHeaders("Record-Route")).toEqual([]);
  });

  it("fixes up a Request-URI a strict router left as our Record-Route URI", () => {
    const h = new ProxyHarness();
    h.inject(invite({ method: "BYE", toTag: "b1", uri: "sip:192.0.2.1:5060;lr", extra: "Route: <sip:bob@192.0.2.20:5070>" }));
    const sent = h.take();
    expect((sent[0]!.message as SipRequest).uri).toBe("sip:bob@192.0.2.20:5070");
    expect(sent[0]!.to).toEqual({ protocol: "udp", host: "192.0.2.20", port: 5070 });
    expect((sent[0]!.message as SipRequest).getHeaders("Route")).toEqual([]);
  });

  it("forwards an ACK for a 2xx statelessly and a stray 2xx retransmission upstream", () => {
    const h = new ProxyHarness();
    h.inject(invite({ method: "ACK", toTag: "b1", uri: "sip:bob@192.0.2.20:5060" }));
    const [ack] = h.requestsTo(UAS_A.host);
    expect(ack!.method).toBe("ACK");
    expect(ack!.via).toHaveLength(2);
    h.take();
    const retrans = answer(ack!, 200);
    retrans.setHeader("CSeq", "1 INVITE");
    h.inject(retrans, UAS_A);
    const up = h.responsesTo(UAC.host);
    expect(up.map((r) => r.status)).toEqual([200]);
    expect(up[0]!.via).toHaveLength(1);
  });
});
