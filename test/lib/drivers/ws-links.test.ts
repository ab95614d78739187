// SIP over WebSocket into the lab's SIP1 (RFC 7118): every response goes back on the connection its request came
// on (RFC 3261 §18.2.2, §17.2.3), whatever another connection writes in its Vias.
import { afterEach, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { startLab, type Lab } from "../../../lib/flow/lab.js";

let lab: Lab | undefined;
const sockets: WebSocket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.terminate();
  await lab?.close();
  lab = undefined;
});

interface Client {
  ws: WebSocket;
  /** Every message it received, as text. */
  got: string[];
}

async function connect(url: string): Promise<Client> {
  const ws = new WebSocket(url, ["sip"]);
  sockets.push(ws);
  const got: string[] = [];
  ws.on("message", (d: Buffer) => got.push(d.toString("latin1")));
  ws.on("error", () => undefined);
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("close", () => reject(new Error("refused")));
  });
  return { ws, got };
}

/** Waits until `c` has a response of `status` for `callId`; false after 5 s. */
async function answered(c: Client, callId: string, status: number): Promise<boolean> {
  for (let i = 0; i < 100; i++) {
    if (responses(c, callId).includes(status)) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

/** Status codes of the responses `c` received for `callId`. */
function responses(c: Client, callId: string): number[] {
  return c.got.filter((m) => m.includes(`\r\nCall-ID: ${callId}\r\n`)).map((m) => Number(/^SIP\/2\.0 (\d{3}) /.exec(m)?.[1]));
}

const SDP = ["v=0", "o=- 1 1 IN IP4 127.0.0.1", "s=-", "c=IN IP4 127.0.0.1", "t=0 0", "m=audio 6010 RTP/AVP 0", "a=rtpmap:0 PCMU/8000", ""].join("\r\n");

function invite(via: string, callId: string): string {
  return [
    "INVITE sip:bob@127.0.0.1 SIP/2.0",
    via,
    "Max-Forwards: 70",
    "From: <sip:alice@example.com>;tag=a1",
    "To: <sip:bob@127.0.0.1>",
    `Call-ID: ${callId}`,
    "CSeq: 1 INVITE",
    "Contact: <sip:alice@a1.invalid;transport=ws>",
    "Content-Type: application/sdp",
    `Content-Length: ${SDP.length}`,
    "",
    SDP,
  ].join("\r\n");
}

function options(via: string, callId: string): string {
  return ["OPTIONS sip:127.0.0.1 SIP/2.0", via, "Max-Forwards: 70", "From: <sip:b@example.com>;tag=b1", "To: <sip:127.0.0.1>", `Call-ID: ${callId}`, "CSeq: 1 OPTIONS", "Content-Length: 0", "", ""].join("\r\n");
}

describe("SIP over WebSocket: responses by transaction", () => {
  it("a second connection that names the first one's Via sent-by (and replays its INVITE) gets none of the first one's responses", async () => {
    lab = await startLab({ wsPort: 0, answerDelayMs: 300 });
    const url = lab.endpoints.SIP1!.ws!;
    const first = await connect(url);
    const liar = await connect(url);
    const firstInvite = invite("Via: SIP/2.0/WS a1.invalid;branch=z9hG4bK-first-1", "first-call");
    first.ws.send(firstInvite);
    expect(await answered(first, "first-call", 100)).toBe(true);
    // the liar names the first client's host in its own request, and sends the first client's INVITE again
    liar.ws.send(options("Via: SIP/2.0/WS a1.invalid;branch=z9hG4bK-liar-1", "liar-options"));
    liar.ws.send(firstInvite);
    expect(await answered(liar, "liar-options", 200)).toBe(true);
    expect(await answered(first, "first-call", 200)).toBe(true);
    expect(responses(first, "first-call")).toContain(180);
    expect(responses(liar, "first-call")).toEqual([]);
    expect(responses(first, "liar-options")).toEqual([]);
  });

  it("a response whose transaction was forgotten (a peer with more than 64 under way) goes back by its Via's received and rport (RFC 3581 §4)", async () => {
    lab = await startLab({ wsPort: 0, answerDelayMs: 500 });
    const c = await connect(lab.endpoints.SIP1!.ws!);
    c.ws.send(invite("Via: SIP/2.0/WS r1.invalid;branch=z9hG4bK-r-invite;rport", "r-call"));
    expect(await answered(c, "r-call", 100)).toBe(true);
    for (let i = 0; i < 70; i++) c.ws.send(options(`Via: SIP/2.0/WS r1.invalid;branch=z9hG4bK-r-${i}`, `r-${i}`));
    expect(await answered(c, "r-69", 200)).toBe(true);
    expect(responses(c, "r-call")).not.toContain(200);
    expect(await answered(c, "r-call", 200)).toBe(true);
  });

  it("finds the top Via in compact form, in any case, or folded over lines (RFC 3261 §7.3.1)", async () => {
    lab = await startLab({ wsPort: 0, answerDelayMs: 0 });
    const url = lab.endpoints.SIP1!.ws!;
    const c = await connect(url);
    const vias = ["v: SIP/2.0/WS c1.invalid;branch=z9hG4bK-c-1", "VIA :SIP/2.0/WS c2.invalid;branch=z9hG4bK-c-2", "Via:\r\n SIP/2.0/WS c3.invalid\r\n\t;branch=z9hG4bK-c-3"];
    for (const [i, via] of vias.entries()) c.ws.send(options(via, `c-${i}`));
    for (let i = 0; i < vias.length; i++) expect(await answered(c, `c-${i}`, 200), vias[i]).toBe(true);
  });
});
