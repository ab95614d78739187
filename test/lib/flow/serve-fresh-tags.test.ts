// callgate serve's user agents: without a seed in the deploy file every start draws its tags and branches from
// node:crypto (RFC 3261 §19.3: tags globally unique), so a restarted UAS never answers with its last run's To
// tag; with a seed, two starts answer alike (a run repeated on purpose).
import { afterEach, describe, expect, it } from "vitest";
import { createSocket, type Socket } from "node:dgram";
import { parseDeployConfig } from "../../../lib/flow/deploy-config.js";
import { serveRole, type ServedRole } from "../../../lib/flow/serve.js";
import { parseSipMessage, type SipResponse } from "../../../protocols/sip/index.js";
import { freePort } from "../../interop/sip-sipp-helpers.js";

const started: ServedRole[] = [];
const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of started.splice(0).reverse()) await s.close();
  for (const s of sockets.splice(0)) s.close();
});

async function deployText(seed: string): Promise<{ text: string; sip2: number; uas: number }> {
  const ports = new Set<number>();
  while (ports.size < 4) ports.add(await freePort());
  const [sip1, sip2, uas, uac] = [...ports] as [number, number, number, number];
  const text = [
    seed,
    "topology: { clearinghouse: none }",
    "roles:",
    `  UAC:  { host: 127.0.0.1, sip: { udp: ${uac} } }`,
    `  SIP1: { host: 127.0.0.1, sip: { udp: ${sip1} } }`,
    "  POL1: { host: 127.0.0.1, cops: 1 }",
    "  R1:   { host: 127.0.0.1 }",
    `  SIP2: { host: 127.0.0.1, sip: { udp: ${sip2} } }`,
    "  POL2: { host: 127.0.0.1, cops: 2 }",
    "  R2:   { host: 127.0.0.1 }",
    `  UAS:  { host: 127.0.0.1, sip: { udp: ${uas} } }`,
    "calls: { count: 1, answerDelayMs: 100, durationMs: 200, hangUp: caller }",
    "",
  ].join("\n");
  return { text, sip2, uas };
}

function invite(sip2: number, uas: number, n: number): string {
  const sdp = ["v=0", "o=- 1 1 IN IP4 127.0.0.1", "s=-", "c=IN IP4 127.0.0.1", "t=0 0", "m=audio 40000 RTP/AVP 0", ""].join("\r\n");
  return [
    `INVITE sip:bob@127.0.0.1:${uas} SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.1:${sip2};branch=z9hG4bKfresh${n}`,
    "Max-Forwards: 70",
    "From: <sip:alice@example.com>;tag=a1",
    "To: <sip:bob@example.net>",
    `Call-ID: fresh-${n}@example.com`,
    "CSeq: 1 INVITE",
    `Contact: <sip:alice@127.0.0.1:${sip2}>`,
    "Content-Type: application/sdp",
    `Content-Length: ${Buffer.byteLength(sdp)}`,
    "",
    sdp,
  ].join("\r\n");
}

/** Starts the UAS of the file, sends it an INVITE as SIP2 and returns the To tag of its first response that has one. */
async function toTagOfOneStart(text: string, sip2: number, uas: number, n: number): Promise<string> {
  const served = await serveRole({ config: parseDeployConfig(text), role: "UAS" });
  started.push(served);
  const socket = createSocket("udp4");
  sockets.push(socket);
  await new Promise<void>((resolve) => socket.bind(sip2, "127.0.0.1", resolve));
  const tag = new Promise<string>((resolve) =>
    socket.on("message", (buf) => {
      const res = parseSipMessage(buf) as SipResponse;
      if (res.to.tag) resolve(res.to.tag);
    }),
  );
  socket.send(invite(sip2, uas, n), uas, "127.0.0.1");
  const value = await tag;
  await served.close();
  started.splice(started.indexOf(served), 1);
  socket.close();
  sockets.splice(sockets.indexOf(socket), 1);
  return value;
}

describe("callgate serve: the UAS's tags", () => {
  it("without a seed in the deploy file, two starts of the UAS answer the same INVITE with different To tags", { timeout: 30_000 }, async () => {
    const { text, sip2, uas } = await deployText("name: fresh");
    expect(parseDeployConfig(text).seedFromFile).toBe(false);
    const first = await toTagOfOneStart(text, sip2, uas, 1);
    const second = await toTagOfOneStart(text, sip2, uas, 1);
    expect(first).toMatch(/^[0-9a-f]{8}/);
    expect(second).not.toBe(first);
  });

  it("with a seed, two starts repeat the same To tag", { timeout: 30_000 }, async () => {
    const { text, sip2, uas } = await deployText("seed: 7");
    expect(parseDeployConfig(text).seedFromFile).toBe(true);
    expect(await toTagOfOneStart(text, sip2, uas, 1)).toBe(await toTagOfOneStart(text, sip2, uas, 1));
  });
});
