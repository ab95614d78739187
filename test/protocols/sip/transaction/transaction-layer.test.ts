// Transaction layer on a virtual clock: timer schedules, matching (§17.1.3, §17.2.3 incl. RFC 2543),
// CANCEL matching (§9.2), merged requests (§8.2.2.2), ACK for non-2xx (§17.1.1.3).
import { describe, expect, it } from "vitest";
import {
  SipRequest,
  SipResponse,
  TransactionLayer,
  VirtualClock,
  buildAckForNonSuccess,
  type InboundContext,
  type ServerTransaction,
  type SipMessage,
  type TerminationReason,
} from "../../../../protocols/sip/index.js";
import { makeRequest, makeResponse } from "./fixtures.js";

const CTX: InboundContext = {
  source: { protocol: "udp", host: "192.0.2.10", port: 5060 },
  local: { protocol: "udp", host: "192.0.2.1", port: 5060 },
};
const DEST = { protocol: "udp" as const, host: "192.0.2.20", port: 5060 };

function setup(opts: { rejectMergedRequests?: boolean; acceptedState?: boolean } = {}) {
  const clock = new VirtualClock();
  const sent: { at: number; message: SipMessage }[] = [];
  const layer = new TransactionLayer({
    clock,
    sender: {
      sendRequest: (m) => {
        sent.push({ at: clock.now(), message: m });
        return Promise.resolve();
      },
      sendResponse: (m) => {
        sent.push({ at: clock.now(), message: m });
        return Promise.resolve();
      },
    },
    ...opts,
  });
  const requests: { request: SipRequest; tx: ServerTransaction }[] = [];
  const acks: SipRequest[] = [];
  const strays: SipResponse[] = [];
  layer.setUser({
    onRequest: (request, tx) => requests.push({ request, tx }),
    onAck: (ack) => acks.push(ack),
    onStrayResponse: (r) => strays.push(r),
  });
  return { clock, sent, layer, requests, acks, strays };
}

describe("client transaction timers on a virtual clock", () => {
  it("INVITE over UDP: Timer A doubles from T1, Timer B gives up at 64*T1, nothing afterwards", () => {
    const { clock, sent, layer } = setup();
    let reason: TerminationReason | undefined;
    layer.sendRequest(makeRequest("INVITE"), DEST, { onResponse: () => undefined, onTerminated: (r) => (reason = r) });
    clock.advance(3_600_000); // an hour of timers
    expect(sent.map((s) => s.at)).toEqual([0, 500, 1500, 3500, 7500, 15500, 31500]);
    expect(reason).toBe("timeout");
    expect(layer.clientCount).toBe(0);
    expect(clock.pendingTimers).toBe(0);
  });

  it("non-INVITE over UDP: Timer E doubles up to T2, Timer F at 64*T1", () => {
    const { clock, sent, layer } = setup();
    layer.sendRequest(makeRequest("OPTIONS"), DEST, { onResponse: () => undefined });
    clock.advance(100_000);
    expect(sent.map((s) => s.at)).toEqual([0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]);
  });

  it("non-INVITE: after a provisional, retransmits every T2", () => {
    const { clock, sent, layer } = setup();
    const req = makeRequest("OPTIONS");
    layer.sendRequest(req, DEST, { onResponse: () => undefined });
    clock.advance(600); // one retransmission at 500
    layer.receive(makeResponse(req, 180), CTX);
    clock.advance(10_000);
    expect(sent.map((s) => s.at)).toEqual([0, 500, 1500, 5500, 9500]);
  });

  it("over TCP nothing is retransmitted and Timer B still applies", () => {
    const { clock, sent, layer } = setup();
    let reason: TerminationReason | undefined;
    layer.sendRequest(makeRequest("INVITE"), { ...DEST, protocol: "tcp" }, { onResponse: () => undefined, onTerminated: (r) => (reason = r) });
    clock.advance(31_999);
    expect(reason).toBeUndefined();
    clock.advance(1);
    expect(sent).toHaveLength(1);
    expect(reason).toBe("timeout");
  });

  it("INVITE: a non-2xx final is ACKed by the transaction, retransmissions re-ACKed, Timer D ends it", () => {
    const { clock, sent, layer } = setup();
    const req = makeRequest("INVITE");
    const got: number[] = [];
    let reason: TerminationReason | undefined;
    layer.sendRequest(req, DEST, { onResponse: (r) => got.push(r.status), onTerminated: (r) => (reason = r) });
    const busy = makeResponse(req, 486);
    layer.receive(busy, CTX);
    layer.receive(busy, CTX);
    expect(got).toEqual([486]);
    expect(sent.map((s) => (s.message as SipRequest).method)).toEqual(["INVITE", "ACK", "ACK"]);
    clock.advance(31_999);
    expect(reason).toBeUndefined();
    clock.advance(1);
    expect(reason).toBe("normal");
  });
});

describe("client matching (§17.1.3)", () => {
  it("matches on top-Via branch and CSeq method; other responses are stray", () => {
    const { layer, strays } = setup();
    const invite = makeRequest("INVITE", { branch: "z9hG4bKsame" });
    const cancel = makeRequest("CANCEL", { branch: "z9hG4bKsame" });
    const inviteResponses: number[] = [];
    const cancelResponses: number[] = [];
    layer.sendRequest(invite, DEST, { onResponse: (r) => inviteResponses.push(r.status) });
    layer.sendRequest(cancel, DEST, { onResponse: (r) => cancelResponses.push(r.status) });
    layer.receive(makeResponse(cancel, 200), CTX);
    layer.receive(makeResponse(invite, 487), CTX);
    layer.receive(makeResponse(makeRequest("INVITE", { branch: "z9hG4bKother" }), 200), CTX);
    expect(cancelResponses).toEqual([200]);
    expect(inviteResponses).toEqual([487]);
    expect(strays.map((r) => r.status)).toEqual([200]);
  });
});

describe("server matching (§17.2.3)", () => {
  it("absorbs INVITE retransmissions (resending the last response), passes a 2xx ACK to the TU, absorbs a non-2xx ACK", () => {
    const { layer, requests, acks, sent } = setup();
    const inv = makeRequest("INVITE");
    layer.receive(inv, CTX);
    layer.receive(inv.clone(), CTX);
    expect(requests).toHaveLength(1);
    expect(sent.map((s) => (s.message as SipResponse).status)).toEqual([100, 100]);
    requests[0]!.tx.respond(makeResponse(inv, 404));
    const ack = new SipRequest("ACK", inv.uri, inv.clone().headers);
    ack.setHeader("CSeq", "1 ACK");
    ack.setHeader("To", `${inv.getHeader("To")};tag=b-1`);
    layer.receive(ack, CTX);
    expect(acks).toHaveLength(0);
    expect(requests[0]!.tx.state).toBe("confirmed");
    // An ACK with another branch (the ACK of a 2xx) goes to the TU.
    const ack2 = ack.clone();
    ack2.setHeader("Via", "SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKack2xx");
    layer.receive(ack2, CTX);
    expect(acks).toHaveLength(1);
  });

  it("RFC 2543 fallback: no magic cookie — matched by Request-URI, tags, Call-ID, CSeq and Via; ACK by the To tag", () => {
    const { layer, requests, acks } = setup();
    const inv = makeRequest("INVITE", { branch: "oldbranch1" });
    layer.receive(inv, CTX);
    layer.receive(inv.clone(), CTX);
    expect(requests).toHaveLength(1);
    requests[0]!.tx.respond(makeResponse(inv, 486, "resp-tag"));
    const ack = new SipRequest("ACK", inv.uri, inv.clone().headers);
    ack.setHeader("CSeq", "1 ACK");
    ack.setHeader("To", `${inv.getHeader("To")};tag=other-tag`);
    layer.receive(ack, CTX); // wrong To tag: not this transaction's ACK
    expect(acks).toHaveLength(1);
    expect(requests[0]!.tx.state).toBe("completed");
    ack.setHeader("To", `${inv.getHeader("To")};tag=resp-tag`);
    layer.receive(ack, CTX);
    expect(requests[0]!.tx.state).toBe("confirmed");
    // A request differing only in CSeq is a new transaction.
    const next = inv.clone();
    next.setHeader("CSeq", "2 INVITE");
    layer.receive(next, CTX);
    expect(requests).toHaveLength(2);
  });

  it("finds the INVITE a CANCEL refers to (§9.2), for RFC 3261 and RFC 2543 branches", () => {
    const { layer, requests } = setup();
    const inv = makeRequest("INVITE", { branch: "z9hG4bKcancelme" });
    layer.receive(inv, CTX);
    const cancel = makeRequest("CANCEL", { branch: "z9hG4bKcancelme" });
    expect(layer.findServerTransactionForCancel(cancel)).toBe(requests[0]!.tx);
    expect(layer.findServerTransactionForCancel(makeRequest("CANCEL", { branch: "z9hG4bKnope" }))).toBeUndefined();
    const old = makeRequest("INVITE", { branch: "2543b", callId: "old@example.com" });
    layer.receive(old, CTX);
    const oldCancel = new SipRequest("CANCEL", old.uri, old.clone().headers);
    oldCancel.setHeader("CSeq", "1 CANCEL");
    expect(layer.findServerTransactionForCancel(oldCancel)).toBe(requests[1]!.tx);
  });

  it("detects merged requests (§8.2.2.2) and, as a UAS, answers them 482", () => {
    const { layer, requests, sent } = setup({ rejectMergedRequests: true });
    const a = makeRequest("INVITE", { branch: "z9hG4bKpath1", callId: "fork@example.com" });
    const b = makeRequest("INVITE", { branch: "z9hG4bKpath2", callId: "fork@example.com" });
    layer.receive(a, CTX);
    expect(layer.isMergedRequest(b)).toBe(true);
    expect(layer.isMergedRequest(a)).toBe(false);
    layer.receive(b, CTX);
    expect(requests).toHaveLength(1);
    expect(sent.map((s) => (s.message as SipResponse).status)).toEqual([100, 482]);
  });
});

describe("ACK for a non-2xx final response (§17.1.1.3)", () => {
  it("copies Request-URI, Call-ID, From, CSeq number, the top Via only, Route; To from the response", () => {
    const inv = makeRequest("INVITE");
    inv.addHeader("Via", "SIP/2.0/UDP 192.0.2.99:5060;branch=z9hG4bKlower", "bottom");
    inv.addHeader("Route", "<sip:p1.example.com;lr>", "bottom");
    inv.addHeader("Route", "<sip:p2.example.com;lr>", "bottom");
    const resp = makeResponse(inv, 603, "t603");
    const ack = buildAckForNonSuccess(inv, resp);
    expect(ack.method).toBe("ACK");
    expect(ack.uri).toBe(inv.uri);
    expect(ack.getHeaders("Via")).toEqual([inv.getHeaders("Via")[0]]);
    expect(ack.getHeaders("Route")).toEqual(["<sip:p1.example.com;lr>", "<sip:p2.example.com;lr>"]);
    expect(ack.to.tag).toBe("t603");
    expect(ack.from.tag).toBe(inv.from.tag);
    expect(ack.callId).toBe(inv.callId);
    expect(ack.cseq).toEqual({ seq: inv.cseq.seq, method: "ACK" });
  });
});

describe("RFC 6026 Accepted state (option)", () => {
  it("absorbs INVITE retransmissions after a 2xx, sends later 2xx, ends on Timer L", () => {
    const { clock, layer, requests, sent } = setup({ acceptedState: true });
    const inv = makeRequest("INVITE");
    layer.receive(inv, CTX);
    const tx = requests[0]!.tx;
    tx.respond(makeResponse(inv, 200, "fork1"));
    expect(tx.state).toBe("accepted");
    layer.receive(inv.clone(), CTX); // late retransmission: absorbed, not a new request
    expect(requests).toHaveLength(1);
    tx.respond(makeResponse(inv, 200, "fork2")); // a second fork's 2xx still goes out
    tx.respond(makeResponse(inv, 486)); // but no non-2xx any more
    expect(sent.map((s) => [(s.message as SipResponse).status, (s.message as SipResponse).to.tag ?? ""])).toEqual([
      [100, ""],
      [200, "fork1"],
      [200, "fork2"],
    ]);
    clock.advance(64 * 500);
    expect(tx.state).toBe("terminated");
    layer.receive(inv.clone(), CTX); // only now would it be new
    expect(requests).toHaveLength(2);
  });

  it("hands an RFC 2543 ACK for the 2xx to the TU", () => {
    const { layer, requests, acks } = setup({ acceptedState: true });
    const inv = makeRequest("INVITE", { branch: "2543accept" });
    layer.receive(inv, CTX);
    requests[0]!.tx.respond(makeResponse(inv, 200, "ok-tag"));
    const ack = new SipRequest("ACK", inv.uri, inv.clone().headers);
    ack.setHeader("CSeq", "1 ACK");
    ack.setHeader("To", `${inv.getHeader("To")};tag=ok-tag`);
    layer.receive(ack, CTX);
    expect(acks).toHaveLength(1);
    expect(requests[0]!.tx.state).toBe("accepted");
  });

  it("without the option, a 2xx ends the transaction at once (RFC 3261 Figure 7)", () => {
    const { layer, requests } = setup();
    const inv = makeRequest("INVITE");
    layer.receive(inv, CTX);
    requests[0]!.tx.respond(makeResponse(inv, 200));
    expect(requests[0]!.tx.state).toBe("terminated");
  });
});
