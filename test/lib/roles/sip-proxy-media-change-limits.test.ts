// A media change the policy server never answers, and a peer changing its media too often: the proxy answers
// the sender itself (504 / 503 with Retry-After, each with a Reason, RFC 3326) and the old media and policy stay.
import { describe, expect, it } from "vitest";
import { decodeCopsMessage, decodeSipAaaClientSi } from "../../../protocols/cops/index.js";
import { SipRequest, parseSipMessage, type SipResponse } from "../../../protocols/sip/index.js";
import { MemoryNetwork } from "../../../lib/drivers/memory-network.js";
import type { MessageRecord } from "../../../lib/drivers/message-record.js";
import type { CallEvent } from "../../../lib/flow/call-events.js";
import { buildTopology, resolveTopology } from "../../../lib/flow/topology.js";
import { faultPlanOf } from "../../../lib/flow/run-memory.js";
import type { FaultSpec } from "../../../lib/flow/run-types.js";

async function callWithReinvites(holds: boolean[], faults: FaultSpec[] = []): Promise<{ records: MessageRecord[]; topo: ReturnType<typeof buildTopology>; events: CallEvent[] }> {
  const call = { caller: "sip:alice@example.com", callee: "sip:bob@example.com", startMs: 100, answerDelayMs: 1000, durationMs: 90_000, hangUp: "caller" as const };
  const reinvites = holds.map((hold) => ({ afterMs: 2000, hold }));
  const topo = buildTopology(resolveTopology({ clearinghouse: "none" }), [call], [], {
    callee: () => ({ outcome: "answer", answerDelayMs: 1000, durationMs: 90_000, hangsUp: false, reinvites }),
  });
  const records: MessageRecord[] = [];
  const events: CallEvent[] = [];
  const net = new MemoryNetwork<CallEvent>({ onRecord: (r) => records.push(r), onEmit: (_node, e) => events.push(e), faults: faultPlanOf(faults) });
  for (const n of topo.nodes) net.add(n);
  for (const pol of [topo.pol1, topo.pol2]) pol.deliverDecisionsWith((actions) => net.perform(pol.name, actions));
  net.start();
  await net.run({ untilMs: 200_000 });
  return { records, topo, events };
}

const changesAsked = (records: MessageRecord[], proxy: string) =>
  records
    .filter((r) => r.proto === "COPS" && r.from === proxy && r.msg === "REQ LDP")
    .map((r) => decodeCopsMessage(r.bytes))
    .map((m) => (m.op === "REQ" ? decodeSipAaaClientSi(m.clientSi[0]!.data) : undefined));

describe("SipProxy: media changes the policy cannot follow", () => {
  it("DEC LDP for a hold never comes (lost): 504 with a Reason before the sender's Timer B, the policy asked back to the old media", async () => {
    // The second DEC LDP from POL2 to SIP2 (the first is the call's setup) answers the callee's hold: it is lost.
    const { records, topo } = await callWithReinvites([true], [{ kind: "drop", proto: "COPS", msg: "DEC LDP", from: "POL2", to: "SIP2", nth: 2 }]);
    const sip = records.filter((r) => r.proto === "SIP");
    const answered = sip.filter((r) => r.from === "SIP2" && r.to === "UAS" && r.msg.startsWith("504"));
    expect(answered).toHaveLength(1);
    const res = parseSipMessage(answered[0]!.bytes) as SipResponse;
    expect(res.cseq.method).toBe("INVITE");
    expect(res.getHeader("Reason")).toBe('SIP;cause=504;text="policy server did not answer"');
    // the hold never went past SIP2 (a callee's re-INVITE goes SIP2 to SIP1)
    expect(sip.filter((r) => r.from === "SIP2" && r.to === "SIP1" && r.msg === "INVITE")).toHaveLength(0);
    // within the wait (10 s), long before the UAS's Timer B (64·T1 = 32 s)
    const heldAt = sip.find((r) => r.from === "UAS" && r.to === "SIP2" && r.msg === "INVITE" && /a=sendonly/.test(parseSipMessage(r.bytes).body.toString()))!;
    expect(answered[0]!.t - heldAt.t).toBeGreaterThanOrEqual(10_000);
    expect(answered[0]!.t - heldAt.t).toBeLessThan(32_000);
    // setup (2 flows), the hold (1 flow), then back to the two flows of the media in force
    const asked = changesAsked(records, "SIP2");
    expect(asked.map((i) => i?.mediaChange)).toEqual([undefined, 1, 2]);
    expect(asked.map((i) => i?.flows.length)).toEqual([2, 1, 2]);
    expect(topo.sip2.unansweredMediaChanges).toBe(1);
    // the call ends as usual, nothing left at the routers
    expect(sip.filter((r) => r.msg === "BYE")).toHaveLength(3);
    expect(topo.sip1.activeCalls + topo.sip2.activeCalls).toBe(0);
    expect(topo.r1.classifiers.size + topo.r2.classifiers.size).toBe(0);
  });

  it("a peer toggling hold more than 10 times a minute: the excess gets 503 with Retry-After, counted, logged once", async () => {
    const holds = Array.from({ length: 14 }, (_, i) => i % 2 === 0);
    const { records, topo, events } = await callWithReinvites(holds);
    const sip = records.filter((r) => r.proto === "SIP");
    const refused = sip.filter((r) => r.from === "SIP2" && r.to === "UAS" && r.msg.startsWith("503")).map((r) => parseSipMessage(r.bytes) as SipResponse);
    // 14 re-INVITEs 2 s apart: the first 10 change the media within a minute. The 11th (a hold) is refused, and so
    // are the 12th to 14th: with the window full no offer passes, not even one that looks like no change (its
    // answer could still change the media).
    expect(refused).toHaveLength(4);
    for (const r of refused) {
      expect(r.cseq.method).toBe("INVITE");
      expect(Number(r.getHeader("Retry-After"))).toBeGreaterThan(0);
      expect(r.getHeader("Reason")).toBe('SIP;cause=503;text="too many media changes"');
    }
    expect(topo.sip2.refusedMediaChanges).toBe(4);
    const reinvitesPast = sip.filter((r) => r.from === "SIP2" && r.to === "SIP1" && r.msg === "INVITE");
    expect(reinvitesPast).toHaveLength(10);
    const logged = events.filter((e) => e.type === "error" && e.role === "SIP2" && e.message.startsWith("media-change-rate"));
    expect(logged).toHaveLength(1);
    // only the admitted changes reached the policy server
    expect(changesAsked(records, "SIP2").filter((i) => i?.mediaChange !== undefined)).toHaveLength(10);
    expect(topo.sip1.activeCalls + topo.sip2.activeCalls).toBe(0);
    expect(topo.r1.classifiers.size + topo.r2.classifiers.size).toBe(0);
  });
});

describe("SipProxy: re-INVITEs without an offer count toward the media-change cap", () => {
  it("a caller sending re-INVITEs without SDP and answering each 2xx offer in its ACK with new media: the 11th within the minute gets 503 at SIP1, never reaching the callee or the routers", async () => {
    // The caller is scripted here (no UAC node): it answers every offer the callee makes in a 2xx with another port.
    const topo = buildTopology(resolveTopology({ clearinghouse: "none" }), [], [], {
      callee: () => ({ outcome: "answer", answerDelayMs: 500, durationMs: 120_000, hangsUp: false }),
    });
    const records: MessageRecord[] = [];
    const events: CallEvent[] = [];
    const net = new MemoryNetwork<CallEvent>({ onRecord: (r) => records.push(r), onEmit: (_node, e) => events.push(e) });
    for (const n of topo.nodes) if (n.name !== "UAC") net.add(n);
    for (const pol of [topo.pol1, topo.pol2]) pol.deliverDecisionsWith((actions) => net.perform(pol.name, actions));
    net.start();
    let now = 1000;
    await net.run({ untilMs: now });
    const sdp = (version: number, port: number, formats: string, direction: string) =>
      `v=0\r\no=- 1 ${version} IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\nm=audio ${port} RTP/AVP ${formats}\r\na=${direction}\r\n`;
    let dialog = { target: "sip:bob@example.com", toTag: "", routes: [] as string[] };
    const send = (method: string, cseq: number, branch: string, body = "", toTag = dialog.toTag) => {
      const text = [
        `${method} ${dialog.target} SIP/2.0`,
        `Via: SIP/2.0/UDP 192.0.2.10;branch=z9hG4bK${branch}`,
        "Max-Forwards: 70",
        ...dialog.routes.map((r) => `Route: ${r}`),
        "From: <sip:alice@example.com>;tag=flooder",
        `To: <sip:bob@example.com>${toTag ? `;tag=${toTag}` : ""}`,
        "Call-ID: flood-1",
        `CSeq: ${cseq} ${method}`,
        "Contact: <sip:alice@192.0.2.10>",
        ...(body ? ["Content-Type: application/sdp"] : []),
        `Content-Length: ${Buffer.byteLength(body)}`,
        "",
        body,
      ].join("\r\n");
      net.perform("UAC", [{ type: "send", proto: "SIP", to: "SIP1", bytes: Buffer.from(text), label: method, callId: "flood-1" }]);
    };
    const finalTo = (cseq: number) =>
      records.map((r) => (r.proto === "SIP" && r.to === "UAC" && /^[2-6]\d\d /.test(r.msg) ? (parseSipMessage(r.bytes) as SipResponse) : undefined)).find((m) => m !== undefined && m.cseq.seq === cseq && m.cseq.method === "INVITE");
    send("INVITE", 1, "flood1", sdp(1, 20000, "0", "sendrecv"));
    now += 3000;
    await net.run({ untilMs: now });
    const ok = finalTo(1)!;
    expect(ok.status).toBe(200);
    dialog = { target: /<([^>]+)>/.exec(ok.getHeader("Contact")!)![1]!, toTag: ok.to.tag!, routes: ok.getHeaders("Record-Route").reverse() };
    send("ACK", 1, "floodack1");
    for (let i = 1; i <= 12; i++) {
      const cseq = 1 + i;
      send("INVITE", cseq, `flood${cseq}`);
      now += 1000;
      await net.run({ untilMs: now });
      const res = finalTo(cseq)!;
      expect(res, `re-INVITE ${i}`).toBeDefined();
      if (res.status === 200) {
        // RFC 3261 §14.1: the 2xx offers (RFC 3264 §5), the ACK answers: a new port every time
        const offered = /^m=audio \d+ RTP\/AVP (\d+)/m.exec(res.body.toString())![1]!;
        send("ACK", cseq, `floodack${cseq}`, sdp(1 + i, 20000 + 2 * i, offered, i % 2 === 0 ? "sendrecv" : "recvonly"));
      } else send("ACK", cseq, `flood${cseq}`, "", res.to.tag); // §17.1.1.3: the ACK of a non-2xx, same branch
      now += 200;
      await net.run({ untilMs: now });
    }
    const refused = records.filter((r) => r.proto === "SIP" && r.from === "SIP1" && r.to === "UAC" && r.msg.startsWith("503")).map((r) => parseSipMessage(r.bytes) as SipResponse);
    // (each retransmitted until its ACK, §17.2.1)
    expect([...new Set(refused.map((r) => r.cseq.seq))]).toEqual([12, 13]);
    for (const r of refused) {
      expect(Number(r.getHeader("Retry-After"))).toBeGreaterThan(0);
      expect(r.getHeader("Reason")).toBe('SIP;cause=503;text="too many media changes"');
    }
    expect(topo.sip1.refusedMediaChanges).toBe(2);
    // the refused ones never reached the callee; the ten admitted each made one media change at both proxies
    expect(records.filter((r) => r.proto === "SIP" && r.from === "SIP2" && r.to === "UAS" && r.msg === "INVITE")).toHaveLength(11);
    for (const proxy of ["SIP1", "SIP2"]) expect(changesAsked(records, proxy).filter((i) => i?.mediaChange !== undefined).map((i) => i!.mediaChange), proxy).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(events.filter((e) => e.type === "error" && e.role === "SIP1" && e.message.startsWith("media-change-rate"))).toHaveLength(1);
    // the call still ends normally, and leaves nothing at the routers
    send("BYE", 30, "floodbye");
    await net.run({ untilMs: now + 60_000 });
    expect(records.some((r) => r.proto === "SIP" && r.from === "SIP1" && r.to === "UAC" && r.msg.startsWith("200") && (parseSipMessage(r.bytes) as SipResponse).cseq.method === "BYE")).toBe(true);
    expect(topo.sip1.activeCalls + topo.sip2.activeCalls).toBe(0);
    expect(topo.r1.classifiers.size + topo.r2.classifiers.size).toBe(0);
  });
});

describe("SipProxy: answers that change the media their offers did not seem to", () => {
  it("a callee answering each same-looking offer with a new port: every such answer counts toward the cap, and once the window is full the next offers get 503 at SIP1", async () => {
    // The callee is scripted here (no UAS node); the caller re-offers the same media twelve times, a second apart.
    const call = { caller: "sip:alice@example.com", callee: "sip:bob@example.com", startMs: 100, answerDelayMs: 500, durationMs: 40_000, hangUp: "caller" as const };
    const reinvites = Array.from({ length: 12 }, () => ({ by: "caller" as const, afterMs: 1000, hold: false }));
    const topo = buildTopology(resolveTopology({ clearinghouse: "none" }), [{ ...call, reinvites }], []);
    const records: MessageRecord[] = [];
    const events: CallEvent[] = [];
    const net = new MemoryNetwork<CallEvent>({ onRecord: (r) => records.push(r), onEmit: (_node, e) => events.push(e) });
    for (const n of topo.nodes) if (n.name !== "UAS") net.add(n);
    for (const pol of [topo.pol1, topo.pol2]) pol.deliverDecisionsWith((actions) => net.perform(pol.name, actions));
    net.start();
    let answers = 0;
    const handled = new Set<string>();
    const respond = (req: SipRequest, status: number, reason: string, body = "") => {
      const text = [
        `SIP/2.0 ${status} ${reason}`,
        ...req.getHeaders("Via").map((v) => `Via: ${v}`),
        ...(req.method === "INVITE" ? req.getHeaders("Record-Route").map((v) => `Record-Route: ${v}`) : []),
        `From: ${req.getHeader("From")!}`,
        `To: ${req.getHeader("To")!}${req.to.tag === undefined ? ";tag=callee1" : ""}`,
        `Call-ID: ${req.callId}`,
        `CSeq: ${req.cseq.seq} ${req.method}`,
        "Contact: <sip:bob@192.0.2.20>",
        ...(body ? ["Content-Type: application/sdp"] : []),
        `Content-Length: ${Buffer.byteLength(body)}`,
        "",
        body,
      ].join("\r\n");
      net.perform("UAS", [{ type: "send", proto: "SIP", to: "SIP2", bytes: Buffer.from(text), label: `${status} ${reason}`, callId: req.callId }]);
    };
    for (let now = 0, seen = 0; now < 90_000; now += 50) {
      await net.run({ untilMs: now });
      for (; seen < records.length; seen++) {
        const r = records[seen]!;
        if (r.proto !== "SIP" || r.to !== "UAS") continue;
        const m = parseSipMessage(r.bytes);
        if (!(m instanceof SipRequest) || m.method === "ACK") continue;
        const key = `${m.cseq.seq} ${m.method}`;
        if (handled.has(key)) continue; // a retransmission
        handled.add(key);
        if (m.method !== "INVITE") respond(m, 200, "OK");
        else {
          // RFC 3264 §6: a valid answer, from a new port every time (§8 lets the answerer move)
          answers++;
          const answer = `v=0\r\no=- 2 ${answers} IN IP4 192.0.2.20\r\ns=-\r\nc=IN IP4 192.0.2.20\r\nt=0 0\r\nm=audio ${30000 + 2 * answers} RTP/AVP 0\r\na=sendrecv\r\n`;
          if (m.to.tag === undefined) respond(m, 180, "Ringing");
          respond(m, 200, "OK", answer);
        }
      }
    }
    const refused = records.filter((r) => r.proto === "SIP" && r.from === "SIP1" && r.to === "UAC" && r.msg.startsWith("503")).map((r) => parseSipMessage(r.bytes) as SipResponse);
    expect([...new Set(refused.map((r) => r.cseq.seq))]).toHaveLength(2);
    for (const r of refused) expect(r.getHeader("Reason")).toBe('SIP;cause=503;text="too many media changes"');
    // each offer looked like no change; each answer moved the callee's port, so each proxy followed it (TLV 9)
    for (const proxy of ["SIP1", "SIP2"]) expect(changesAsked(records, proxy).filter((i) => i?.mediaChange !== undefined)).toHaveLength(10);
    expect(records.filter((r) => r.proto === "SIP" && r.from === "SIP2" && r.to === "UAS" && r.msg === "INVITE" && (parseSipMessage(r.bytes) as SipRequest).to.tag !== undefined)).toHaveLength(10);
    expect(topo.sip1.refusedMediaChanges).toBe(2);
    expect(topo.sip1.activeCalls + topo.sip2.activeCalls).toBe(0);
    expect(topo.r1.classifiers.size + topo.r2.classifiers.size).toBe(0);
  });
});

describe("SipProxy: an UPDATE in the early dialog (RFC 3311 §5.1)", () => {
  it("with SDP that changes the media, is held for REQ LDP (TLV 9) at each proxy like a re-INVITE", async () => {
    const call = { caller: "sip:alice@example.com", callee: "sip:bob@example.com", startMs: 100, answerDelayMs: 10_000, durationMs: 20_000, hangUp: "caller" as const };
    const topo = buildTopology(resolveTopology({ clearinghouse: "none" }), [call], [], {
      callee: () => ({ outcome: "answer", answerDelayMs: 10_000, durationMs: 20_000, hangsUp: false }),
    });
    const records: MessageRecord[] = [];
    const net = new MemoryNetwork<CallEvent>({ onRecord: (r) => records.push(r) });
    for (const n of topo.nodes) net.add(n);
    for (const pol of [topo.pol1, topo.pol2]) pol.deliverDecisionsWith((actions) => net.perform(pol.name, actions));
    net.start();
    await net.run({ untilMs: 4_000 });
    // The caller is ringing (180 relayed after DEC LDP): it sends an UPDATE putting the call on hold.
    const ringing = records.find((r) => r.proto === "SIP" && r.from === "SIP1" && r.to === "UAC" && r.msg.startsWith("180"));
    const invite = records.find((r) => r.proto === "SIP" && r.from === "UAC" && r.to === "SIP1" && r.msg === "INVITE");
    expect(ringing && invite).toBeTruthy();
    const ring = parseSipMessage(ringing!.bytes) as SipResponse;
    expect(records.some((r) => r.proto === "SIP" && r.msg.startsWith("200") && r.to === "UAC")).toBe(false);
    const contact = /<([^>]+)>/.exec(ring.getHeader("Contact")!)![1]!;
    const sdp = parseSipMessage(invite!.bytes).body.toString().replace("a=sendrecv", "a=sendonly");
    const update = [
      `UPDATE ${contact} SIP/2.0`,
      "Via: SIP/2.0/UDP 192.0.2.10;branch=z9hG4bKearlyupdate1",
      "Max-Forwards: 70",
      ...ring.getHeaders("Record-Route").reverse().map((v) => `Route: ${v}`),
      `From: ${ring.getHeader("From")!}`,
      `To: ${ring.getHeader("To")!}`,
      `Call-ID: ${ring.callId}`,
      "CSeq: 2 UPDATE",
      "Contact: <sip:alice@192.0.2.10>",
      "Content-Type: application/sdp",
      `Content-Length: ${Buffer.byteLength(sdp)}`,
      "",
      sdp,
    ].join("\r\n");
    net.perform("UAC", [{ type: "send", proto: "SIP", to: "SIP1", bytes: Buffer.from(update), label: "UPDATE", callId: ring.callId }]);
    await net.run({ untilMs: 120_000 });
    for (const [proxy, pol, next] of [["SIP1", "POL1", "SIP2"], ["SIP2", "POL2", "UAS"]] as const) {
      const reqAt = records.findIndex((r) => r.proto === "COPS" && r.from === proxy && r.msg === "REQ LDP" && (() => {
        const m = decodeCopsMessage(r.bytes);
        return m.op === "REQ" && decodeSipAaaClientSi(m.clientSi[0]!.data).mediaChange === 1;
      })());
      const decAt = records.findIndex((r, i) => i > reqAt && r.proto === "COPS" && r.from === pol && r.to === proxy && r.msg === "DEC LDP");
      const fwdAt = records.findIndex((r) => r.proto === "SIP" && r.from === proxy && r.to === next && r.msg === "UPDATE");
      expect(reqAt, proxy).toBeGreaterThan(-1);
      expect(decAt, proxy).toBeGreaterThan(reqAt);
      expect(fwdAt, proxy).toBeGreaterThan(decAt);
      // the hold: only the callee's flow towards the caller is left
      const m = decodeCopsMessage(records[reqAt]!.bytes);
      expect(m.op === "REQ" ? decodeSipAaaClientSi(m.clientSi[0]!.data).flows.length : -1).toBe(1);
    }
    // the call is answered and ends as usual, nothing left
    expect(records.filter((r) => r.proto === "SIP" && r.msg === "BYE")).toHaveLength(3);
    expect(topo.sip1.activeCalls + topo.sip2.activeCalls).toBe(0);
    expect(topo.r1.classifiers.size + topo.r2.classifiers.size).toBe(0);
  });
});
