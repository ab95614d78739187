// The user-agent role as a sans-I/O machine, fed SIP requests as a softphone writes them (RFC 3261 §8, §12-§14;
// RFC 3262, 3311, 3428, 4028; SDP by RFC 3264). The peer here is scripted text; SIPp plays it for real in the
// interop suite (test/interop/sipp-softphone-*.test.ts).
import { describe, expect, it } from "vitest";
import { SipRequest, SipResponse, parseSipMessage } from "../../../protocols/sip/index.js";
import { mediaDirection, parseSdp } from "../../../protocols/sdp/index.js";
import { UserAgent, type CalleeBehaviour } from "../../../lib/roles/user-agent.js";
import { SipIds } from "../../../lib/roles/sip-ids.js";
import { seededRandom } from "../../../lib/drivers/seeded-random.js";
import type { NodeAction } from "../../../lib/drivers/node.js";
import type { CallEvent } from "../../../lib/flow/call-events.js";

const PHONE_OFFER = (dir = "sendrecv", port = 34242, formats = "96 97 98 0 8 18 101") =>
  `v=0\r\no=- 3917094528 3917094528 IN IP4 127.0.0.1\r\ns=pjmedia\r\nt=0 0\r\nm=audio ${port} RTP/AVP ${formats}\r\nc=IN IP4 127.0.0.1\r\n` +
  `a=rtpmap:96 opus/48000/2\r\na=rtpmap:97 speex/16000\r\na=rtpmap:98 speex/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=${dir}\r\n`;

interface Req {
  method: string;
  cseq: number;
  branch: string;
  toTag?: string;
  headers?: string[];
  body?: string;
  callId?: string;
}

function request(r: Req): Buffer {
  const body = r.body ?? "";
  const lines = [
    `${r.method} sip:uas@127.0.0.1 SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK${r.branch}`,
    "Max-Forwards: 70",
    "From: <sip:phone@127.0.0.1>;tag=phone1",
    `To: <sip:uas@127.0.0.1>${r.toTag ? `;tag=${r.toTag}` : ""}`,
    `Call-ID: ${r.callId ?? "softphone-1"}`,
    `CSeq: ${r.cseq} ${r.method === "ACK" ? "ACK" : r.method}`,
    "Contact: <sip:phone@127.0.0.1:5070>",
    ...(r.headers ?? []),
    ...(body ? ["Content-Type: application/sdp"] : []),
    `Content-Length: ${Buffer.byteLength(body)}`,
  ];
  return Buffer.from(`${lines.join("\r\n")}\r\n\r\n${body}`);
}

class Harness {
  readonly ua: UserAgent;
  now = 0;
  readonly sent: Array<SipRequest | SipResponse> = [];
  readonly events: CallEvent[] = [];
  readonly timers = new Map<string, number>();
  constructor(behaviour: Partial<CalleeBehaviour> = {}, extra: { reliableProvisionals?: boolean; random?: () => number } = {}) {
    this.ua = new UserAgent({
      name: "UAS", proxy: "PEER", host: "127.0.0.1", mediaAddress: "127.0.0.1", ids: new SipIds(seededRandom(7)),
      behaviour: () => ({ outcome: "answer", answerDelayMs: 100, durationMs: 0, hangsUp: false, ...behaviour }), ...extra,
    });
  }
  private take(actions: NodeAction<CallEvent>[]): Array<SipRequest | SipResponse> {
    const out: Array<SipRequest | SipResponse> = [];
    for (const a of actions) {
      if (a.type === "send") {
        const m = parseSipMessage(a.bytes);
        out.push(m);
        this.sent.push(m);
      } else if (a.type === "set-timer") this.timers.set(a.key, this.now + a.delayMs);
      else if (a.type === "cancel-timer") this.timers.delete(a.key);
      else if (a.type === "emit") this.events.push(a.event);
    }
    return out;
  }
  send(r: Req): Array<SipRequest | SipResponse> {
    return this.take(this.ua.handle({ type: "deliver", now: this.now, proto: "SIP", from: "PEER", bytes: request(r) }));
  }
  sendResponse(text: string): Array<SipRequest | SipResponse> {
    return this.take(this.ua.handle({ type: "deliver", now: this.now, proto: "SIP", from: "PEER", bytes: Buffer.from(text) }));
  }
  /** Fire the UA timer named `what` (e.g. "answer"); the clock moves to its deadline. */
  fire(what: string): Array<SipRequest | SipResponse> {
    const key = [...this.timers.keys()].find((k) => k.startsWith(`ua:${what}:`));
    if (key === undefined) throw new Error(`no ${what} timer armed (armed: ${[...this.timers.keys()].join(", ")})`);
    this.now = Math.max(this.now, this.timers.get(key)!);
    this.timers.delete(key);
    return this.take(this.ua.handle({ type: "timer", now: this.now, key }));
  }
  armed(what: string): number | undefined {
    const key = [...this.timers.keys()].find((k) => k.startsWith(`ua:${what}:`));
    return key === undefined ? undefined : this.timers.get(key)! - this.now;
  }
  /** A call set up with a plain offer; returns the UAS's To-tag. */
  establish(headers: string[] = [], body = PHONE_OFFER()): string {
    const [ringing] = this.send({ method: "INVITE", cseq: 1, branch: "inv1", headers, body }) as SipResponse[];
    const [ok] = this.fire("answer") as SipResponse[];
    expect(ok?.status).toBe(200);
    this.send({ method: "ACK", cseq: 1, branch: "ack1", toTag: ringing!.to.tag! });
    return ringing!.to.tag!;
  }
}

function response(m: SipRequest | SipResponse | undefined): SipResponse {
  expect(m).toBeInstanceOf(SipResponse);
  return m as SipResponse;
}

describe("user agent: requests outside a dialog", () => {
  it("OPTIONS gets 200 with Allow, Supported and Accept; MESSAGE 200 (RFC 3428); INFO and UPDATE 481; SUBSCRIBE 405 with Allow", () => {
    const h = new Harness();
    const options = response(h.send({ method: "OPTIONS", cseq: 1, branch: "o1" })[0]);
    expect(options.status).toBe(200);
    expect(options.getHeader("Allow")).toBe("INVITE, ACK, BYE, CANCEL, OPTIONS, UPDATE, INFO, PRACK, MESSAGE");
    expect(options.getHeader("Supported")).toBe("100rel, timer");
    expect(options.getHeader("Accept")).toBe("application/sdp");
    expect(response(h.send({ method: "MESSAGE", cseq: 1, branch: "m1", callId: "im-1" })[0]).status).toBe(200);
    expect(response(h.send({ method: "INFO", cseq: 1, branch: "i1", toTag: "nope" })[0]).status).toBe(481);
    expect(response(h.send({ method: "UPDATE", cseq: 1, branch: "u1", toTag: "nope" })[0]).status).toBe(481);
    const sub = response(h.send({ method: "SUBSCRIBE", cseq: 1, branch: "s1" })[0]);
    expect(sub.status).toBe(405);
    expect(sub.getHeader("Allow")).toContain("INVITE");
  });

  it("Require: foo → 420 with Unsupported: foo (RFC 3261 §8.2.2.3); Require: 100rel, timer are supported", () => {
    const h = new Harness();
    const r = response(h.send({ method: "INVITE", cseq: 1, branch: "r1", headers: ["Require: foo, timer"], body: PHONE_OFFER() })[0]);
    expect(r.status).toBe(420);
    expect(r.getHeader("Unsupported")).toBe("foo");
    expect(h.ua.activeCalls).toBe(0);
  });
});

describe("user agent: SDP as RFC 3264 says", () => {
  it("answers an offer of static payload types without rtpmap with formats drawn from it (never an m= line without formats)", () => {
    const h = new Harness();
    const [ringing] = h.send({ method: "INVITE", cseq: 1, branch: "a1", body: PHONE_OFFER("sendrecv", 34242, "96 97 98 0 8 18 101") });
    const [ok] = h.fire("answer");
    for (const m of [ringing, ok]) {
      const sd = parseSdp(response(m).body);
      expect(sd.media[0]?.formats).toEqual(["0", "8", "18"]);
      expect(sd.media[0]?.port).toBeGreaterThan(0);
      expect(sd.connection?.address).toBe("127.0.0.1");
    }
  });

  it("an offer with no acceptable media is refused 488 with a Warning, not answered", () => {
    const h = new Harness();
    const r = response(h.send({ method: "INVITE", cseq: 1, branch: "n1", body: PHONE_OFFER("sendrecv", 34242, "96 97") })[0]);
    expect(r.status).toBe(488);
    expect(r.getHeader("Warning")).toMatch(/^304 /);
    expect(h.events.find((e) => e.type === "terminated")).toMatchObject({ status: 488 });
  });

  it("malformed SDP is refused 400 naming the line", () => {
    const h = new Harness();
    const r = response(h.send({ method: "INVITE", cseq: 1, branch: "b1", body: PHONE_OFFER().replace("RTP/AVP 96 97 98 0 8 18 101", "RTP/AVP ") })[0]);
    expect(r.status).toBe(400);
    expect(r.reason).toMatch(/bad-media at line 5/);
  });

  it("late offer: an INVITE without SDP gets the offer in the 200, the ACK answers; an ACK without answer ends the call with BYE", () => {
    const h = new Harness();
    const [ringing] = h.send({ method: "INVITE", cseq: 1, branch: "l1" });
    expect(response(ringing).body.length).toBe(0);
    const ok = response(h.fire("answer")[0]);
    expect(ok.getHeader("Content-Type")).toBe("application/sdp");
    const offer = parseSdp(ok.body);
    expect(offer.media[0]?.formats).toEqual(["0", "8", "18"]);
    const answer = PHONE_OFFER("sendrecv", 4000, "0").replace(/a=rtpmap:9[678].*\r\n/g, "").replace(/a=rtpmap:101.*\r\na=fmtp:101 0-16\r\n/, "");
    expect(h.send({ method: "ACK", cseq: 1, branch: "l2", toTag: ok.to.tag!, body: answer })).toEqual([]);
    expect(h.events.some((e) => e.type === "established")).toBe(true);

    const h2 = new Harness();
    h2.send({ method: "INVITE", cseq: 1, branch: "l3" });
    const ok2 = response(h2.fire("answer")[0]);
    const bye = h2.send({ method: "ACK", cseq: 1, branch: "l4", toTag: ok2.to.tag! });
    expect(bye.map((m) => (m as SipRequest).method)).toEqual(["BYE"]);
  });
});

describe("user agent: dialogs that live (RFC 3261 §12-§14)", () => {
  it("hold and resume by re-INVITE: sendonly answered recvonly, then sendrecv; the 200 is retransmitted until its ACK", () => {
    const h = new Harness();
    const tag = h.establish();
    const hold = response(h.send({ method: "INVITE", cseq: 2, branch: "h1", toTag: tag, body: PHONE_OFFER("sendonly") })[0]);
    expect(hold.status).toBe(200);
    const held = parseSdp(hold.body);
    expect(mediaDirection(held, held.media[0]!)).toBe("recvonly");
    expect(h.armed("2xx")).toBe(500);
    expect(response(h.fire("2xx")[0]).status).toBe(200); // retransmitted
    h.send({ method: "ACK", cseq: 2, branch: "h2", toTag: tag });
    expect(h.armed("2xx")).toBeUndefined();
    const resume = response(h.send({ method: "INVITE", cseq: 3, branch: "h3", toTag: tag, body: PHONE_OFFER("sendrecv") })[0]);
    const resumed = parseSdp(resume.body);
    expect(mediaDirection(resumed, resumed.media[0]!)).toBe("sendrecv");
    // RFC 3264 §8: same session id, version one up, same port
    expect(resumed.origin.sessionId).toBe(held.origin.sessionId);
    expect(Number(resumed.origin.sessionVersion)).toBe(Number(held.origin.sessionVersion) + 1);
    expect(resumed.media[0]!.port).toBe(held.media[0]!.port);
    // a re-INVITE with media we cannot take: 488, the call stays
    expect(response(h.send({ method: "INVITE", cseq: 4, branch: "h4", toTag: tag, body: PHONE_OFFER("sendrecv", 5000, "96") })[0]).status).toBe(500); // 200 not yet ACKed: §14.2
    h.send({ method: "ACK", cseq: 3, branch: "h5", toTag: tag });
    expect(response(h.send({ method: "INVITE", cseq: 5, branch: "h6", toTag: tag, body: PHONE_OFFER("sendrecv", 5000, "96") })[0]).status).toBe(488);
    expect(h.ua.activeCalls).toBe(1);
    // INFO and OPTIONS in the dialog
    expect(response(h.send({ method: "INFO", cseq: 6, branch: "h7", toTag: tag })[0]).status).toBe(200);
    expect(response(h.send({ method: "OPTIONS", cseq: 7, branch: "h8", toTag: tag })[0]).status).toBe(200);
    // a CSeq going back: 500 (§12.2.2)
    expect(response(h.send({ method: "INFO", cseq: 3, branch: "h9", toTag: tag })[0]).status).toBe(500);
  });

  it("UPDATE with an offer is answered in its 200 (RFC 3311)", () => {
    const h = new Harness();
    const tag = h.establish();
    const ok = response(h.send({ method: "UPDATE", cseq: 2, branch: "u1", toTag: tag, body: PHONE_OFFER("sendonly", 36000) })[0]);
    expect(ok.status).toBe(200);
    const sd = parseSdp(ok.body);
    expect(mediaDirection(sd, sd.media[0]!)).toBe("recvonly");
  });

  it("glare: a re-INVITE crossing ours gets 491; ours, refused 491, is retried after 0-2 s (callee, §14.1)", () => {
    const h = new Harness({ reinvites: [{ afterMs: 1000, hold: true }] }, { random: () => 0.5 });
    const tag = h.establish();
    const [ours] = h.fire("reinvite") as SipRequest[];
    expect(ours?.method).toBe("INVITE");
    expect(mediaDirection(parseSdp(ours!.body), parseSdp(ours!.body).media[0]!)).toBe("sendonly");
    expect(response(h.send({ method: "INVITE", cseq: 2, branch: "g1", toTag: tag, body: PHONE_OFFER("sendonly") })[0]).status).toBe(491);
    const via = ours!.getHeader("Via")!;
    const refusal = `SIP/2.0 491 Request Pending\r\nVia: ${via}\r\nFrom: ${ours!.getHeader("From")}\r\nTo: ${ours!.getHeader("To")}\r\nCall-ID: softphone-1\r\nCSeq: ${ours!.cseq.seq} INVITE\r\nContent-Length: 0\r\n\r\n`;
    const afterRefusal = h.sendResponse(refusal);
    expect(afterRefusal.map((m) => (m as SipRequest).method)).toEqual(["ACK"]); // the transaction's ACK for a non-2xx
    expect(h.armed("glare")).toBe(1000);
    const [retry] = h.fire("glare") as SipRequest[];
    expect(retry?.method).toBe("INVITE");
    expect(retry!.cseq.seq).toBeGreaterThan(ours!.cseq.seq);
  });

  it("session timer (RFC 4028): 422 with Min-SE below 90 s; 200 names the interval and refresher; no refresh → BYE before expiry; UPDATE refresh re-arms", () => {
    const h = new Harness();
    const tooSmall = response(h.send({ method: "INVITE", cseq: 1, branch: "t0", headers: ["Session-Expires: 60", "Supported: timer"], body: PHONE_OFFER() })[0]);
    expect(tooSmall.status).toBe(422);
    expect(tooSmall.getHeader("Min-SE")).toBe("90");
    const [ringing] = h.send({ method: "INVITE", cseq: 2, branch: "t1", headers: ["Session-Expires: 90", "Supported: timer"], body: PHONE_OFFER() });
    const ok = response(h.fire("answer")[0]);
    expect(ok.getHeader("Session-Expires")).toBe("90;refresher=uac");
    expect(ok.getHeader("Require")).toBe("timer");
    const tag = response(ringing).to.tag!;
    h.send({ method: "ACK", cseq: 2, branch: "t2", toTag: tag });
    expect(h.armed("expire")).toBe(60_000); // 90 s - min(32, 30)
    expect(h.armed("refresh")).toBeUndefined(); // the phone refreshes
    h.now += 44_000;
    const refreshed = response(h.send({ method: "UPDATE", cseq: 3, branch: "t3", toTag: tag, headers: ["Session-Expires: 90;refresher=uac", "Supported: timer"] })[0]);
    expect(refreshed.status).toBe(200);
    expect(refreshed.getHeader("Session-Expires")).toBe("90;refresher=uac");
    expect(h.armed("expire")).toBe(60_000);
    const [bye] = h.fire("expire") as SipRequest[];
    expect(bye?.method).toBe("BYE");
  });

  it("a lying Session-Expires (10^9 s) is shortened to one day in the 200 (RFC 4028 §9), so no timer overflows", () => {
    const h = new Harness();
    const [ringing] = h.send({ method: "INVITE", cseq: 1, branch: "x1", headers: ["Session-Expires: 999999999", "Supported: timer"], body: PHONE_OFFER() });
    const ok = response(h.fire("answer")[0]);
    expect(ok.getHeader("Session-Expires")).toBe("86400;refresher=uac");
    h.send({ method: "ACK", cseq: 1, branch: "x2", toTag: response(ringing).to.tag! });
    expect(h.armed("expire")).toBe((86_400 - 32) * 1000);
  });

  it("the UAS refreshes when the phone cannot (no Supported: timer): UPDATE at half the interval when the phone allows it", () => {
    const h = new Harness();
    const tag = h.establish(["Session-Expires: 120", "Allow: INVITE, ACK, BYE, UPDATE"]);
    expect(h.armed("refresh")).toBe(60_000);
    const [update] = h.fire("refresh") as SipRequest[];
    expect(update?.method).toBe("UPDATE");
    expect(update!.getHeader("Session-Expires")).toBe("120;refresher=uac");
    expect(update!.to.tag).toBe("phone1");
    void tag;
  });

  it("100rel (RFC 3262): the 180 is reliable (Require, RSeq), retransmitted until PRACK, and the 200 waits for the PRACK", () => {
    const h = new Harness({}, { reliableProvisionals: true });
    const ringing = response(h.send({ method: "INVITE", cseq: 1, branch: "p1", headers: ["Supported: 100rel"], body: PHONE_OFFER() })[0]);
    expect(ringing.getHeader("Require")).toBe("100rel");
    const rseq = Number(ringing.getHeader("RSeq"));
    expect(rseq).toBeGreaterThan(0);
    expect(response(h.fire("rel")[0]).getHeader("RSeq")).toBe(String(rseq));
    expect(h.fire("answer")).toEqual([]); // no 2xx before the PRACK
    const tag = ringing.to.tag!;
    expect(response(h.send({ method: "PRACK", cseq: 2, branch: "p2", toTag: tag, headers: [`RAck: ${rseq + 1} 1 INVITE`] })[0]).status).toBe(481);
    const [prackOk, inviteOk] = h.send({ method: "PRACK", cseq: 3, branch: "p3", toTag: tag, headers: [`RAck: ${rseq} 1 INVITE`] }).map(response);
    expect(prackOk!.status).toBe(200);
    expect(prackOk!.cseq.method).toBe("PRACK");
    expect(inviteOk!.status).toBe(200);
    expect(inviteOk!.cseq.method).toBe("INVITE");
    expect(h.armed("rel")).toBeUndefined();
  });

  it("no PRACK within 64*T1: the INVITE is refused 5xx", () => {
    const h = new Harness({}, { reliableProvisionals: true });
    h.send({ method: "INVITE", cseq: 1, branch: "q1", headers: ["Require: 100rel"], body: PHONE_OFFER() });
    const [refusal] = h.fire("relgiveup");
    expect(response(refusal).status).toBe(504);
    expect(h.ua.activeCalls).toBe(0);
  });

  it("100rel with a late offer (RFC 3262 §5): the reliable 180 offers, the 200 waits for the PRACK's answer and carries no SDP", () => {
    const h = new Harness({}, { reliableProvisionals: true });
    const ringing = response(h.send({ method: "INVITE", cseq: 1, branch: "l1", headers: ["Require: 100rel"] })[0]);
    expect(ringing.getHeader("RSeq")).toBeDefined();
    const offer = parseSdp(ringing.body);
    expect(offer.media[0]!.port).toBeGreaterThan(0);
    expect(h.fire("answer")).toEqual([]); // the offer is unanswered: no 2xx yet
    const answer = PHONE_OFFER("sendrecv", 40000, "0").replace("s=pjmedia", "s=-");
    const [prackOk, inviteOk] = h.send({ method: "PRACK", cseq: 2, branch: "l2", toTag: ringing.to.tag!, headers: [`RAck: ${ringing.getHeader("RSeq")} 1 INVITE`], body: answer }).map(response);
    expect(prackOk!.status).toBe(200);
    expect(inviteOk!.status).toBe(200);
    expect(inviteOk!.cseq.method).toBe("INVITE");
    expect(inviteOk!.body.length).toBe(0);
    // the ACK needs no answer: the call is up
    h.send({ method: "ACK", cseq: 1, branch: "l3", toTag: ringing.to.tag! });
    expect(h.events.some((e) => e.type === "established")).toBe(true);
    expect(h.sent.some((m) => m instanceof SipRequest && m.method === "BYE")).toBe(false);
  });

  it("100rel with a late offer: a PRACK without the answer is taken (200, it matches the 180) and the INVITE is refused 488", () => {
    const h = new Harness({}, { reliableProvisionals: true });
    const ringing = response(h.send({ method: "INVITE", cseq: 1, branch: "m1", headers: ["Require: 100rel"] })[0]);
    const [prackOk, refusal] = h.send({ method: "PRACK", cseq: 2, branch: "m2", toTag: ringing.to.tag!, headers: [`RAck: ${ringing.getHeader("RSeq")} 1 INVITE`] }).map(response);
    expect(prackOk!.status).toBe(200);
    expect(refusal!.status).toBe(488);
    expect(refusal!.cseq.method).toBe("INVITE");
    expect(h.armed("rel")).toBeUndefined();
    expect(h.ua.activeCalls).toBe(0);
  });
});

describe("user agent as the caller: re-INVITEs of its own", () => {
  function answerTo(req: SipRequest, status: number, extra: string[] = [], body = ""): string {
    const lines = [
      `SIP/2.0 ${status} ${status === 200 ? "OK" : "Request Pending"}`,
      ...req.getHeaders("Via").map((v) => `Via: ${v}`),
      `From: ${req.getHeader("From")}`,
      `To: ${req.getHeader("To")}${req.to.tag ? "" : ";tag=callee9"}`,
      `Call-ID: ${req.callId}`,
      `CSeq: ${req.cseq.seq} ${req.cseq.method}`,
      "Contact: <sip:callee@127.0.0.1:5090>",
      ...extra,
      ...(body ? ["Content-Type: application/sdp"] : []),
      `Content-Length: ${Buffer.byteLength(body)}`,
    ];
    return `${lines.join("\r\n")}\r\n\r\n${body}`;
  }

  it("holds and resumes as planned: sendonly then sendrecv offers, each 2xx ACKed with its own CSeq; a 2xx refresher=uac makes it refresh by UPDATE, raised to Min-SE after a 422", () => {
    const sent: Array<SipRequest | SipResponse> = [];
    const timers = new Map<string, number>();
    let now = 0;
    const ua = new UserAgent({
      name: "UAC", proxy: "PEER", host: "127.0.0.1", mediaAddress: "127.0.0.1", ids: new SipIds(seededRandom(3)),
      calls: [{ callId: "c-1", from: "sip:alice@127.0.0.1", to: "sip:bob@127.0.0.1", startMs: 0, durationMs: 60_000, hangUp: "caller", reinvites: [{ afterMs: 1000, hold: true }, { afterMs: 1000, hold: false }] }],
    });
    const take = (actions: NodeAction<CallEvent>[]): Array<SipRequest | SipResponse> => {
      const out: Array<SipRequest | SipResponse> = [];
      for (const a of actions) {
        if (a.type === "send") out.push(parseSipMessage(a.bytes));
        else if (a.type === "set-timer") timers.set(a.key, now + a.delayMs);
        else if (a.type === "cancel-timer") timers.delete(a.key);
      }
      sent.push(...out);
      return out;
    };
    const fire = (what: string) => {
      const key = [...timers.keys()].find((k) => k.startsWith(`ua:${what}:`))!;
      now = timers.get(key)!;
      timers.delete(key);
      return take(ua.handle({ type: "timer", now, key }));
    };
    const deliver = (text: string) => take(ua.handle({ type: "deliver", now, proto: "SIP", from: "PEER", bytes: Buffer.from(text) }));
    take(ua.handle({ type: "start", now: 0 }));
    const [invite] = fire("start") as SipRequest[];
    const answer = (dir: string) => PHONE_OFFER(dir, 4000, "0").replace(/a=rtpmap:9[678].*\r\n/g, "").replace(/a=rtpmap:101.*\r\na=fmtp:101 0-16\r\n/, "");
    const [ack1] = deliver(answerTo(invite!, 200, ["Session-Expires: 90;refresher=uac", "Allow: INVITE, ACK, BYE, UPDATE"], answer("sendrecv"))) as SipRequest[];
    expect(ack1?.method).toBe("ACK");
    expect(ack1!.cseq.seq).toBe(1);
    const [hold] = fire("reinvite") as SipRequest[];
    expect(hold?.method).toBe("INVITE");
    const holdSdp = parseSdp(hold!.body);
    expect(mediaDirection(holdSdp, holdSdp.media[0]!)).toBe("sendonly");
    expect(holdSdp.origin.sessionVersion).toBe("2");
    const [ack2] = deliver(answerTo(hold!, 200, [], answer("recvonly"))) as SipRequest[];
    expect(ack2?.method).toBe("ACK");
    expect(ack2!.cseq.seq).toBe(hold!.cseq.seq);
    const [resume] = fire("reinvite") as SipRequest[];
    const resumeSdp = parseSdp(resume!.body);
    expect(mediaDirection(resumeSdp, resumeSdp.media[0]!)).toBe("sendrecv");
    expect(resumeSdp.origin.sessionVersion).toBe("3");
    deliver(answerTo(resume!, 200, [], answer("sendrecv")));
    // refresher=uac in the first 2xx: we refresh at 45 s, by UPDATE (the callee allows it)
    const [update] = fire("refresh") as SipRequest[];
    expect(update?.method).toBe("UPDATE");
    expect(update!.getHeader("Session-Expires")).toBe("90;refresher=uac");
    // RFC 4028 §7.3: 422 with Min-SE 120 → the refresh again with 120
    const [again] = deliver(answerTo(update!, 422, ["Min-SE: 120"]).replace("422 Request Pending", "422 Session Interval Too Small")) as SipRequest[];
    expect(again?.method).toBe("UPDATE");
    expect(again!.getHeader("Session-Expires")).toBe("120;refresher=uac");
    expect(again!.cseq.seq).toBeGreaterThan(update!.cseq.seq);
  });
});

describe("user agent: any offer a phone may send (fast-check)", () => {
  it("is answered with SDP that passes RFC 3264 §6 (one m= line per offered one, formats from the offer, or port 0), or refused 488", async () => {
    const fc = (await import("fast-check")).default;
    const { offerArb } = await import("../../protocols/sdp/arbitraries.js");
    const { checkAnswer, serializeSdp } = await import("../../../protocols/sdp/index.js");
    let refused = 0;
    let answered = 0;
    fc.assert(
      fc.property(offerArb, (offer) => {
        const h = new Harness();
        const [first] = h.send({ method: "INVITE", cseq: 1, branch: "fc1", body: serializeSdp(offer) });
        const r = response(first);
        if (r.status === 488) {
          expect(h.ua.activeCalls).toBe(0);
          refused++;
          return;
        }
        answered++;
        expect(r.status).toBe(180);
        const ok = response(h.fire("answer")[0]);
        const answer = parseSdp(ok.body);
        expect(checkAnswer(offer, answer)).toEqual({ kind: "ok" });
        expect(answer.media.some((m) => m.port !== 0)).toBe(true);
      }),
      { numRuns: 300 },
    );
    // both ways were taken
    expect(refused).toBeGreaterThan(10);
    expect(answered).toBeGreaterThan(10);
  });
});
