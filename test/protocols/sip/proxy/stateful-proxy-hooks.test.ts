// The stateful proxy as the core of an application that holds responses (a policy decision point is asked
// first), gives up on forwarded requests, originates requests, and record-routes twice where the transport
// changes (RFC 5658). RFC 3261 §9.1, §16.6–16.8.
import { describe, expect, it } from "vitest";
import { SipRequest, buildRequest, type SipResponse } from "../../../../protocols/sip/index.js";
import type { ProxyRequestContext } from "../../../../protocols/sip/proxy/proxy-types.js";
import type { TransportAddress } from "../../../../protocols/sip/transport/transport-types.js";
import { ProxyHarness, PROXY, UAC, UAS_A, answer, invite } from "./harness.js";

const T1 = 500;
const PROXY_TCP: TransportAddress = { protocol: "tcp", host: "192.0.2.1", port: 5061 };
const UAS_TCP: TransportAddress = { protocol: "tcp", host: "192.0.2.20", port: 5060 };

describe("stateful proxy: the response hook", () => {
  it("holds a 180 and a 200 until release, then relays them in order; Timer C does not fire on a held final", () => {
    let ctx: ProxyRequestContext | undefined;
    const held: SipResponse[] = [];
    const h = new ProxyHarness({
      timerC: 10 * T1,
      hook: (c) => {
        ctx = c;
        return { action: "forward", targets: [{ nextHop: UAS_A }] };
      },
      responseHook: (_c, res) => {
        held.push(res);
        return "hold";
      },
    });
    h.inject(invite());
    const [fwd] = h.requestsTo(UAS_A.host);
    h.take();
    h.inject(answer(fwd!, 180), UAS_A);
    h.inject(answer(fwd!, 200), UAS_A);
    expect(held.map((r) => r.status)).toEqual([180, 200]);
    expect(h.responsesTo(UAC.host)).toEqual([]);
    h.clock.advance(20 * T1);
    expect(h.requestsTo(UAS_A.host).filter((r) => r.method === "CANCEL")).toEqual([]);
    expect(h.responsesTo(UAC.host)).toEqual([]);
    for (const r of held) ctx!.release(r);
    const up = h.responsesTo(UAC.host);
    expect(up.map((r) => r.status)).toEqual([180, 200]);
    for (const r of up) expect(r.via).toHaveLength(1);
    // released once: a second release of the same response sends nothing
    ctx!.release(held[1]!);
    expect(h.responsesTo(UAC.host)).toHaveLength(2);
  });

  it("a dropped final is never relayed; the request ends with the application's own answer", () => {
    let ctx: ProxyRequestContext | undefined;
    const h = new ProxyHarness({
      hook: (c) => {
        ctx = c;
        return { action: "forward", targets: [{ nextHop: UAS_A }] };
      },
      responseHook: (_c, res) => (res.status >= 200 ? "drop" : "relay"),
    });
    h.inject(invite());
    const [fwd] = h.requestsTo(UAS_A.host);
    h.take();
    h.inject(answer(fwd!, 486), UAS_A);
    expect(h.responsesTo(UAC.host)).toEqual([]);
    ctx!.abandon(503, undefined, [{ name: "Reason", value: 'SIP;cause=503;text="policy"' }]);
    const up = h.responsesTo(UAC.host);
    expect(up.map((r) => r.status)).toEqual([503]);
    expect(up[0]!.getHeader("Reason")).toBe('SIP;cause=503;text="policy"');
  });

  it("abandon after a provisional: the branch is CANCELled, upstream gets the application's status once, the 487 is not relayed", () => {
    let ctx: ProxyRequestContext | undefined;
    const h = new ProxyHarness({
      hook: (c) => {
        ctx = c;
        return { action: "forward", targets: [{ nextHop: UAS_A }] };
      },
    });
    h.inject(invite());
    const [fwd] = h.requestsTo(UAS_A.host);
    h.inject(answer(fwd!, 180), UAS_A);
    h.take();
    ctx!.abandon(503, "Service Unavailable");
    const [cancel] = h.requestsTo(UAS_A.host).filter((r) => r.method === "CANCEL");
    expect(cancel!.topVia.branch).toBe(fwd!.topVia.branch);
    h.inject(answer(fwd!, 487), UAS_A);
    expect(h.responsesTo(UAC.host).map((r) => r.status)).toEqual([503]);
  });
});

describe("stateful proxy: a CANCEL left unanswered (RFC 3261 §9.1, §16.8)", () => {
  it("counts the branch as ended 64·T1 after its CANCEL: 487 upstream", () => {
    const h = new ProxyHarness({ t1: T1, hook: () => ({ action: "forward", targets: [{ nextHop: UAS_A }] }) });
    const inv = invite();
    h.inject(inv);
    const [fwd] = h.requestsTo(UAS_A.host);
    h.inject(answer(fwd!, 180), UAS_A);
    h.take();
    h.inject(inv.replace(/^INVITE /, "CANCEL ").replace("CSeq: 1 INVITE", "CSeq: 1 CANCEL"));
    expect(h.requestsTo(UAS_A.host).map((r) => r.method)).toEqual(["CANCEL"]);
    h.clock.advance(64 * T1 - 1);
    expect(h.responsesTo(UAC.host).map((r) => `${r.status} ${r.cseq.method}`)).toEqual(["200 CANCEL"]);
    h.clock.advance(1);
    expect(h.responsesTo(UAC.host).map((r) => `${r.status} ${r.cseq.method}`)).toEqual(["200 CANCEL", "487 INVITE"]);
  });

  it("a branch that sent only 100 Trying and then went silent is CANCELled at once and ended 64·T1 later: 487 upstream", () => {
    const h = new ProxyHarness({ t1: T1, hook: () => ({ action: "forward", targets: [{ nextHop: UAS_A }] }) });
    const inv = invite();
    h.inject(inv);
    const [fwd] = h.requestsTo(UAS_A.host);
    h.inject(answer(fwd!, 100), UAS_A);
    h.take();
    h.inject(inv.replace(/^INVITE /, "CANCEL ").replace("CSeq: 1 INVITE", "CSeq: 1 CANCEL"));
    // §9.1: the 100 is a provisional, so the CANCEL goes now, not at Timer C.
    expect(h.requestsTo(UAS_A.host).map((r) => r.method)).toEqual(["CANCEL"]);
    h.clock.advance(64 * T1);
    expect(h.responsesTo(UAC.host).map((r) => `${r.status} ${r.cseq.method}`)).toEqual(["200 CANCEL", "487 INVITE"]);
  });

  it("a 100 Trying after a CANCEL was asked for lets the CANCEL go", () => {
    const h = new ProxyHarness({ t1: T1, hook: () => ({ action: "forward", targets: [{ nextHop: UAS_A }] }) });
    const inv = invite();
    h.inject(inv);
    const [fwd] = h.requestsTo(UAS_A.host);
    h.take();
    h.inject(inv.replace(/^INVITE /, "CANCEL ").replace("CSeq: 1 INVITE", "CSeq: 1 CANCEL"));
    expect(h.requestsTo(UAS_A.host)).toHaveLength(0);
    h.inject(answer(fwd!, 100), UAS_A);
    expect(h.requestsTo(UAS_A.host).map((r) => r.method)).toEqual(["CANCEL"]);
    // The 100 itself is not relayed (§16.7 step 3).
    expect(h.responsesTo(UAC.host).map((r) => r.status)).toEqual([200]);
  });

  it("after Timer C the silent branch is answered 408, not 487", () => {
    const h = new ProxyHarness({ t1: T1, timerC: 4 * T1, hook: () => ({ action: "forward", targets: [{ nextHop: UAS_A }] }) });
    h.inject(invite());
    const [fwd] = h.requestsTo(UAS_A.host);
    h.inject(answer(fwd!, 180), UAS_A);
    h.take();
    h.clock.advance(4 * T1);
    expect(h.requestsTo(UAS_A.host).map((r) => r.method)).toEqual(["CANCEL"]);
    h.clock.advance(64 * T1);
    expect(h.responsesTo(UAC.host).map((r) => r.status)).toEqual([408]);
  });
});

describe("stateful proxy: Timer C (RFC 3261 §16.6 step 11, §16.7 step 2)", () => {
  it("restarts with each provisional: no CANCEL until Timer C after the last one, one timer per branch throughout", () => {
    const h = new ProxyHarness({ t1: T1, timerC: 4 * T1, hook: () => ({ action: "forward", targets: [{ nextHop: UAS_A }] }) });
    h.inject(invite());
    const [fwd] = h.requestsTo(UAS_A.host);
    h.inject(answer(fwd!, 180), UAS_A);
    const setTimer = h.clock.setTimer.bind(h.clock);
    let timersSet = 0;
    h.clock.setTimer = (delayMs, fire) => {
      timersSet++;
      return setTimer(delayMs, fire);
    };
    // Ten provisionals T1/2 apart: each moves Timer C on without setting a timer (the transaction is Proceeding,
    // §17.1.1.2); the one timer, due at 4·T1, is set once more for the rest.
    for (let i = 0; i < 10; i++) {
      h.clock.advance(T1 / 2);
      h.inject(answer(fwd!, 183), UAS_A);
    }
    expect(timersSet).toBe(1);
    h.take();
    h.clock.advance(4 * T1 - 1);
    expect(h.requestsTo(UAS_A.host).filter((r) => r.method === "CANCEL")).toEqual([]);
    h.clock.advance(1);
    expect(h.requestsTo(UAS_A.host).map((r) => r.method)).toEqual(["CANCEL"]);
  });

  it("stops at the final response: nothing fires later", () => {
    const h = new ProxyHarness({ t1: T1, timerC: 4 * T1, hook: () => ({ action: "forward", targets: [{ nextHop: UAS_A }] }) });
    h.inject(invite());
    const [fwd] = h.requestsTo(UAS_A.host);
    h.inject(answer(fwd!, 180), UAS_A);
    h.clock.advance(2 * T1);
    h.inject(answer(fwd!, 183), UAS_A);
    h.inject(answer(fwd!, 486), UAS_A);
    h.take();
    h.clock.advance(100 * T1);
    expect(h.requestsTo(UAS_A.host).filter((r) => r.method === "CANCEL")).toEqual([]);
    expect(h.responsesTo(UAC.host).filter((r) => r.status >= 400 && r.status !== 486)).toEqual([]);
  });
});

describe("stateful proxy: how it names itself", () => {
  it("seeded branches and tags, rport in its Via, and the names the application gives its addresses", () => {
    let n = 0;
    const h = new ProxyHarness({
      rport: () => true,
      branchPrefix: () => `seed${n++}`,
      newTag: () => "tag0",
      selfName: () => ({ sentBy: "sip1.example.com", recordRoute: "<sip:sip1.example.com;lr>" }),
      hook: (c) => (c.request.uri.startsWith("sip:nobody") ? { action: "respond", status: 404 } : { action: "forward", targets: [{ nextHop: UAS_A }] }),
    });
    h.inject(invite());
    const [fwd] = h.requestsTo(UAS_A.host);
    expect(fwd!.getHeaders("Via")[0]).toMatch(/^SIP\/2\.0\/UDP sip1\.example\.com;branch=z9hG4bK[^;]*\.seed0\.0;rport$/);
    expect(fwd!.getHeaders("Record-Route")).toEqual(["<sip:sip1.example.com;lr>"]);
    h.inject(invite({ uri: "sip:nobody@example.com" }));
    const refused = h.responsesTo(UAC.host).find((r) => r.status === 404);
    expect(refused!.to.tag).toBe("tag0");
  });

  it("originates a BYE with its own Via in a client transaction, and an ACK without one", () => {
    const h = new ProxyHarness();
    const base = { uri: "sip:bob@192.0.2.20", from: "<sip:alice@example.com>;tag=a", to: "<sip:bob@example.com>;tag=b", callId: "orig@x" };
    h.proxy.sendRequest(buildRequest({ ...base, method: "ACK", cseq: 1 }), UAS_A);
    let status = 0;
    h.proxy.sendRequest(buildRequest({ ...base, method: "BYE", cseq: 2 }), UAS_A, { onResponse: (r) => (status = r.status) });
    const [ack, bye] = h.requestsTo(UAS_A.host);
    expect(ack!.method).toBe("ACK");
    expect(bye!.topVia.host).toBe(PROXY.host);
    expect(bye!.via).toHaveLength(1);
    h.inject(answer(bye!, 200), UAS_A);
    expect(status).toBe(200);
    // a retransmission timer runs only until the 200 (the client transaction matched it)
    h.clock.advance(64 * T1);
    expect(h.requestsTo(UAS_A.host).filter((r) => r.method === "BYE")).toHaveLength(1);
  });
});

describe("stateful proxy: RFC 5658 double Record-Route where the transport changes", () => {
  it("UDP in, TCP out: two Record-Route values, each naming its side's listener; both removed from either end's Route set", () => {
    const h = new ProxyHarness({ identity: { addresses: [PROXY, PROXY_TCP] }, hook: (c) => (c.inDialog ? { action: "forward" } : { action: "forward", targets: [{ nextHop: UAS_TCP }] }) });
    h.inject(invite());
    const [fwd] = h.requestsTo(UAS_TCP.host);
    // RFC 5658 §3.2: the outbound side's value on top, then the inbound side's.
    expect(fwd!.getHeaders("Record-Route")).toEqual(["<sip:192.0.2.1:5061;transport=tcp;lr>", "<sip:192.0.2.1:5060;lr>"]);
    expect(fwd!.topVia.transport).toBe("TCP");
    expect(fwd!.topVia.port).toBe(5061);
    h.take();
    // The callee's route set is the Record-Route in order; the caller's is the reverse (RFC 3261 §12.1).
    const inDialog = (method: string, routes: string[], uri: string): string =>
      [
        `${method} ${uri} SIP/2.0`,
        `Via: SIP/2.0/TCP 192.0.2.20:5060;branch=z9hG4bK${method}${routes.length}x`,
        "Max-Forwards: 70",
        `Route: ${routes.join(", ")}`,
        "From: <sip:bob@example.com>;tag=b1",
        "To: <sip:alice@example.com>;tag=a1",
        `Call-ID: rr5658-${method}@192.0.2.20`,
        `CSeq: 1 ${method}`,
        "Content-Length: 0",
        "",
        "",
      ].join("\n");
    h.inject(inDialog("BYE", ["<sip:192.0.2.1:5061;transport=tcp;lr>", "<sip:192.0.2.1:5060;lr>"], "sip:alice@192.0.2.10:5060"), UAS_TCP);
    const [bye] = h.requestsTo(UAC.host);
    expect(bye!.getHeaders("Route")).toEqual([]);
    expect(bye!.topVia.transport).toBe("UDP");
    h.take();
    h.inject(inDialog("INFO", ["<sip:192.0.2.1:5060;lr>", "<sip:192.0.2.1:5061;transport=tcp;lr>", "<sip:192.0.2.99;lr>"], "sip:bob@192.0.2.20:5060;transport=tcp"), UAC);
    const [info] = h.requestsTo("192.0.2.99");
    expect(info!.getHeaders("Route")).toEqual(["<sip:192.0.2.99;lr>"]);
    expect(info).toBeInstanceOf(SipRequest);
  });

  it("one transport both ways: one Record-Route value", () => {
    const h = new ProxyHarness({ identity: { addresses: [PROXY, PROXY_TCP] }, hook: () => ({ action: "forward", targets: [{ nextHop: UAS_A }] }) });
    h.inject(invite());
    expect(h.requestsTo(UAS_A.host)[0]!.getHeaders("Record-Route")).toEqual(["<sip:192.0.2.1:5060;lr>"]);
  });
});
