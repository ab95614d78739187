// The caller's side of a late offer (RFC 3261 §13.2.1): the INVITE carries no SDP, the 2xx carries the callee's
// offer and the ACK the answer (RFC 3264 §6); an offer the caller cannot take still gets a valid answer (every
// stream port 0) and the call is ended at once by BYE. The callee here is scripted text.
import { describe, expect, it } from "vitest";
import { SipRequest, parseSipMessage, type SipResponse } from "../../../protocols/sip/index.js";
import { parseSdp } from "../../../protocols/sdp/index.js";
import { UserAgent } from "../../../lib/roles/user-agent.js";
import { SipIds } from "../../../lib/roles/sip-ids.js";
import { seededRandom } from "../../../lib/drivers/seeded-random.js";
import type { NodeAction } from "../../../lib/drivers/node.js";
import type { CallEvent } from "../../../lib/flow/call-events.js";

const offer = (formats: string, rtpmaps: string[]) =>
  `v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP ${formats}\r\n${rtpmaps.map((r) => `a=rtpmap:${r}\r\n`).join("")}a=sendrecv\r\n`;

function ok(invite: SipRequest, body: string): Buffer {
  const lines = [
    "SIP/2.0 200 OK",
    ...invite.getHeaders("Via").map((v) => `Via: ${v}`),
    `From: ${invite.getHeader("From")}`,
    `To: ${invite.getHeader("To")};tag=callee1`,
    `Call-ID: ${invite.callId}`,
    `CSeq: ${invite.cseq.seq} INVITE`,
    "Contact: <sip:bob@127.0.0.1:5090>",
    "Content-Type: application/sdp",
    `Content-Length: ${Buffer.byteLength(body)}`,
  ];
  return Buffer.from(`${lines.join("\r\n")}\r\n\r\n${body}`);
}

function caller(): { ua: UserAgent; sent: () => Array<SipRequest | SipResponse>; take: (a: NodeAction<CallEvent>[]) => void } {
  const ua = new UserAgent({
    name: "UAC", proxy: "PEER", host: "127.0.0.1", mediaAddress: "127.0.0.1", ids: new SipIds(seededRandom(3)),
    calls: [{ callId: "late-1", from: "sip:alice@127.0.0.1", to: "sip:bob@127.0.0.1", startMs: 0, durationMs: 10_000, hangUp: "caller", lateOffer: true }],
  });
  const out: Array<SipRequest | SipResponse> = [];
  const take = (actions: NodeAction<CallEvent>[]) => {
    for (const a of actions) if (a.type === "send") out.push(parseSipMessage(a.bytes));
  };
  return { ua, sent: () => out.splice(0), take };
}

/** Starts the call: the INVITE the caller sends once its start timer fires. */
function invite(c: ReturnType<typeof caller>): SipRequest {
  const start = c.ua.handle({ type: "start", now: 0 });
  const key = start.flatMap((a) => (a.type === "set-timer" ? [a.key] : []))[0];
  c.take(key === undefined ? start : c.ua.handle({ type: "timer", now: 0, key }));
  const inv = c.sent().find((m): m is SipRequest => m instanceof SipRequest && m.method === "INVITE");
  expect(inv).toBeDefined();
  return inv!;
}

describe("user agent: a late offer from the caller's side", () => {
  it("sends its INVITE without SDP and answers the 2xx's offer in the ACK, again with a retransmitted 2xx", () => {
    const c = caller();
    const inv = invite(c);
    expect(inv.body.length).toBe(0);
    expect(inv.hasHeader("Content-Type")).toBe(false);
    const theOffer = offer("97 8 0", ["97 speex/16000", "8 PCMA/8000", "0 PCMU/8000"]);
    c.take(c.ua.handle({ type: "deliver", now: 100, proto: "SIP", from: "PEER", bytes: ok(inv, theOffer) }));
    const [ack, ...rest] = c.sent();
    expect(rest.filter((m) => m instanceof SipRequest && m.method === "BYE")).toEqual([]);
    expect(ack instanceof SipRequest && ack.method).toBe("ACK");
    const answer = parseSdp(ack!.body);
    // RFC 3264 §6.1: one m-line for the offered one, formats drawn from the offer (speex is not ours)
    expect(answer.media.map((m) => [m.port > 0, m.formats])).toEqual([[true, ["8", "0"]]]);
    // the 2xx again (its ACK was lost): the same answer in the new ACK
    c.take(c.ua.handle({ type: "deliver", now: 600, proto: "SIP", from: "PEER", bytes: ok(inv, theOffer) }));
    const again = c.sent().find((m): m is SipRequest => m instanceof SipRequest && m.method === "ACK");
    expect(again?.body.toString()).toBe(ack!.body.toString());
  });

  it("an offer it cannot take: a valid answer refusing every stream (port 0, the offered formats), then BYE at once", () => {
    const c = caller();
    const inv = invite(c);
    c.take(c.ua.handle({ type: "deliver", now: 100, proto: "SIP", from: "PEER", bytes: ok(inv, offer("96 97", ["96 opus/48000/2", "97 speex/16000"])) }));
    const sent = c.sent().filter((m): m is SipRequest => m instanceof SipRequest);
    expect(sent.map((m) => m.method)).toEqual(["ACK", "BYE"]);
    const answer = parseSdp(sent[0]!.body);
    expect(answer.media.map((m) => [m.port, m.formats])).toEqual([[0, ["96", "97"]]]);
  });
});
