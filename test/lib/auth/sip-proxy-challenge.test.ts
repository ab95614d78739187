// SIP1 with a caller challenge (RFC 3261 §22.3): an INVITE without credentials is answered 407 at once and no REQ
// goes to POL1; the INVITE again with fresh credentials goes to POL1 in REQ AAA with its Proxy-Authorization in
// ClientSI TLV 8; the same credentials again (a replay) are refused 403, again without asking POL1.
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { computeHa1 } from "../../../lib/auth/credential-store.js";
import { computeDigestResponse } from "../../../lib/auth/digest-response.js";
import { NonceMachine } from "../../../lib/auth/nonce-machine.js";
import { SipChallenger } from "../../../lib/auth/sip-challenge.js";
import { MemoryNetwork } from "../../../lib/drivers/memory-network.js";
import type { MessageRecord } from "../../../lib/drivers/message-record.js";
import type { CallEvent } from "../../../lib/flow/call-events.js";
import { buildTopology, resolveTopology } from "../../../lib/flow/topology.js";
import { decodeCopsMessage, parseSipAaaRequest } from "../../../protocols/cops/index.js";
import { formatDigestCredentials, parseDigestChallenge } from "../../../protocols/sip/codec/digest.js";
import { parseSipMessage, type SipResponse } from "../../../protocols/sip/index.js";

const SOURCE = { host: "127.0.0.1", port: 40123 };
const REALM = "sip1.example.com";

function invite(callId: string, cseq: number, extra: string[] = []): Buffer {
  return Buffer.from(
    [
      "INVITE sip:+15557654321@sip2.example.com SIP/2.0",
      `Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK${callId}-${cseq};rport`,
      "Max-Forwards: 70",
      "From: <sip:alice@sip1.example.com>;tag=f1",
      "To: <sip:+15557654321@sip2.example.com>",
      `Call-ID: ${callId}`,
      `CSeq: ${cseq} INVITE`,
      ...extra,
      "Content-Length: 0",
      "",
      "",
    ].join("\r\n"),
  );
}

/** SIP1, POL1 and R1 of the flow on the in-memory network; the caller is a node that only listens. */
async function flowWithChallenge() {
  const challenger = new SipChallenger({ realm: REALM, nonces: new NonceMachine({ secret: randomBytes(32), randomBytes }) });
  const topo = buildTopology(resolveTopology({ clearinghouse: "none" }), [], [], { adapters: { callerChallenge: challenger } });
  const records: MessageRecord[] = [];
  const net = new MemoryNetwork<CallEvent>({ onRecord: (r) => records.push(r) });
  for (const n of [topo.sip1, topo.pol1, topo.r1]) net.add(n);
  net.add({ name: "UAC", handle: () => [] });
  net.start();
  await net.run({ untilMs: 1000 });
  const send = async (bytes: Buffer): Promise<MessageRecord[]> => {
    const from = records.length;
    net.at(net.now, "SIP1", { type: "deliver", proto: "SIP", from: "UAC", bytes, source: SOURCE });
    await net.run({ untilMs: net.now + 200 });
    return records.slice(from);
  };
  return { send };
}

const toCaller = (rs: MessageRecord[]) => rs.filter((r) => r.to === "UAC" && !r.msg.startsWith("100 ")).map((r) => parseSipMessage(r.bytes) as SipResponse);
const requestsToPol1 = (rs: MessageRecord[]) => rs.filter((r) => r.proto === "COPS" && r.to === "POL1" && r.msg === "REQ AAA").map((r) => decodeCopsMessage(r.bytes));

describe("SipProxy with a caller challenge", () => {
  it("407 without credentials, REQ AAA with TLV 8 with them, 403 on replay", async () => {
    const { send } = await flowWithChallenge();
    const first = await send(invite("c1", 1));
    const [challenge] = toCaller(first);
    expect(challenge?.status).toBe(407);
    expect(requestsToPol1(first)).toEqual([]);
    const offered = challenge!.getHeaders("Proxy-Authenticate").map((v) => parseDigestChallenge(v));
    expect(offered.map((c) => c.algorithm)).toEqual(["SHA-256", "MD5"]);
    const c = offered[0]!;
    const base = { username: "alice", realm: REALM, nonce: c.nonce, uri: "sip:+15557654321@sip2.example.com", algorithm: "SHA-256", qop: "auth", nc: "00000001", cnonce: "k" };
    const header = formatDigestCredentials({ ...base, response: computeDigestResponse({ ...base, algorithm: "SHA-256", ha1: computeHa1("SHA-256", "alice", REALM, "pw"), method: "INVITE" }) });
    const second = await send(invite("c1", 2, [`Proxy-Authorization: ${header}`]));
    const reqs = requestsToPol1(second);
    expect(reqs).toHaveLength(1);
    expect(parseSipAaaRequest(reqs[0]!).info.proxyAuthorization).toBe(header);
    const replay = await send(invite("c2", 1, [`Proxy-Authorization: ${header}`]));
    expect(toCaller(replay)[0]?.status).toBe(403);
    expect(requestsToPol1(replay)).toEqual([]);
  });
});
