// SIP over WebSocket into the lab's SIP1 (RFC 7118): every response goes back on the connection its request came
// on (RFC 3261 §18.2.2, §17.2.3), whatever another connection writes in its Vias; every request to the caller on
// the connection that carries its call (§12.2), whatever another connection writes in its Call-IDs.
import { afterEach, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { startLab, type Lab } from "../../../lib/flow/lab.js";
import { parseSipMessage } from "../../../protocols/sip/index.js";
import type { SendAction } from "../../../lib/drivers/node.js";
import { SipPeers } from "../../../lib/drivers/sip-peers.js";
import { callerDriverContext } from "../../support/caller-driver-context.js";
import { WsLinks } from "../../../lib/drivers/ws-links.js";

let lab: Lab | undefined;
const sockets: WebSocket[] = [];
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.terminate();
  for (const close of closers.splice(0)) await close();
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

/** A SIP1 of its own: the WebSocket links alone, its sends made by the test (the driver's view of SIP1's actions). */
interface Sip1 {
  links: WsLinks;
  url: string;
  /** Requests and responses the links handed to SIP1, as text. */
  delivered: string[];
  /** Causes of the drops counted. */
  drops: string[];
}

async function sip1Links(): Promise<Sip1> {
  const { context, delivered, drops } = callerDriverContext();
  const links = new WsLinks(context, new SipPeers(undefined));
  const listener = await links.listen("SIP1", 0, "127.0.0.1");
  closers.push(() => links.destroy());
  return { links, url: `ws://127.0.0.1:${listener.port}`, delivered, drops };
}

/** Sends `text` from `c` and waits until SIP1 has it. */
async function sent(sip1: Sip1, c: Client, text: string): Promise<void> {
  const before = sip1.delivered.length;
  c.ws.send(text);
  for (let i = 0; i < 100 && sip1.delivered.length === before; i++) await new Promise((r) => setTimeout(r, 20));
  expect(sip1.delivered.length).toBe(before + 1);
}

/** A request from SIP1 in call `callId` toward the caller, as SIP1's send action carries it. */
function fromSip1(method: string, callId: string, cseq = 1): SendAction {
  const text = [
    `${method} sip:alice@a1.invalid;transport=ws SIP/2.0`,
    `Via: SIP/2.0/WS 127.0.0.1:5066;branch=z9hG4bK-sip1-${method}-${callId}-${cseq}`,
    "Max-Forwards: 70",
    "From: <sip:bob@127.0.0.1>;tag=b1",
    "To: <sip:alice@example.com>;tag=a1",
    `Call-ID: ${callId}`,
    `CSeq: ${cseq} ${method}`,
    "Content-Length: 0",
    "",
    "",
  ].join("\r\n");
  return { type: "send", proto: "SIP", to: "UAC", bytes: Buffer.from(text, "latin1"), label: method, callId };
}

/** SIP1's final response to a request the caller sent (its Via as it came, so it goes back by transaction). */
function answerFromSip1(request: string, status: number, reason: string): SendAction {
  const line = (name: string): string => new RegExp(`^${name}: .*$`, "m").exec(request)![0].replace(/\r$/, "");
  const callId = /^Call-ID: (.*)$/m.exec(request)![1]!.replace(/\r$/, "");
  const text = [`SIP/2.0 ${status} ${reason}`, line("Via"), line("From"), `${line("To")}${status === 100 ? "" : ";tag=b1"}`, `Call-ID: ${callId}`, line("CSeq"), "Content-Length: 0", "", ""].join("\r\n");
  return { type: "send", proto: "SIP", to: "UAC", bytes: Buffer.from(text, "latin1"), label: `${status} ${reason}`, callId };
}

/** Requests `c` received in `callId`, by method. */
function requests(c: Client, callId: string): string[] {
  return c.got.filter((m) => !m.startsWith("SIP/2.0 ") && m.includes(`\r\nCall-ID: ${callId}\r\n`)).map((m) => m.slice(0, m.indexOf(" ")));
}

function bye(via: string, callId: string, cseq = 2): string {
  return ["BYE sip:bob@127.0.0.1 SIP/2.0", via, "Max-Forwards: 70", "From: <sip:alice@example.com>;tag=a1", "To: <sip:bob@127.0.0.1>;tag=b1", `Call-ID: ${callId}`, `CSeq: ${cseq} BYE`, "Content-Length: 0", "", ""].join("\r\n");
}

/** Waits a little for messages in flight to land (a check that something did not arrive). */
async function settled(): Promise<void> {
  await new Promise((r) => setTimeout(r, 100));
}

describe("SIP over WebSocket: requests to the caller by call (RFC 3261 §12.2, RFC 7118 §5)", () => {
  it("call 1's BYE goes to caller 1 though caller 2 sent the last request, and call 2's to caller 2", async () => {
    const sip1 = await sip1Links();
    const one = await connect(sip1.url);
    const two = await connect(sip1.url);
    await sent(sip1, one, invite("Via: SIP/2.0/WS one.invalid;branch=z9hG4bK-one-1", "call-1"));
    await sent(sip1, two, invite("Via: SIP/2.0/WS two.invalid;branch=z9hG4bK-two-1", "call-2"));
    await sent(sip1, two, options("Via: SIP/2.0/WS two.invalid;branch=z9hG4bK-two-2", "two-options"));
    expect(sip1.links.send("SIP1", fromSip1("BYE", "call-1"))).toBe(true);
    expect(sip1.links.send("SIP1", fromSip1("UPDATE", "call-2"))).toBe(true);
    await settled();
    expect(requests(one, "call-1")).toEqual(["BYE"]);
    expect(requests(two, "call-1")).toEqual([]);
    expect(requests(two, "call-2")).toEqual(["UPDATE"]);
    expect(requests(one, "call-2")).toEqual([]);
  });

  it("a lying connection that sends requests with call 1's Call-ID gets none of call 1's requests", async () => {
    const sip1 = await sip1Links();
    const one = await connect(sip1.url);
    const liar = await connect(sip1.url);
    await sent(sip1, one, invite("Via: SIP/2.0/WS one.invalid;branch=z9hG4bK-one-1", "call-1"));
    await sent(sip1, liar, invite("Via: SIP/2.0/WS liar.invalid;branch=z9hG4bK-liar-1", "call-1"));
    await sent(sip1, liar, bye("Via: SIP/2.0/WS one.invalid;branch=z9hG4bK-liar-2", "call-1", 3));
    // the liar's own BYE answered (by its transaction) ends nothing of caller 1's
    expect(sip1.links.send("SIP1", answerFromSip1(sip1.delivered.at(-1)!, 200, "OK"))).toBe(true);
    for (const [i, method] of ["INVITE", "UPDATE", "BYE"].entries()) expect(sip1.links.send("SIP1", fromSip1(method, "call-1", 10 + i))).toBe(true);
    await settled();
    expect(requests(one, "call-1")).toEqual(["INVITE", "UPDATE", "BYE"]);
    expect(requests(liar, "call-1")).toEqual([]);
    expect(liar.got.filter((m) => m.startsWith("SIP/2.0 200 "))).toHaveLength(1);
  });

  it("a call whose connection closed: its requests are dropped and counted, not sent to another caller, until its caller reconnects and sends a request in it", async () => {
    const sip1 = await sip1Links();
    const one = await connect(sip1.url);
    const other = await connect(sip1.url);
    await sent(sip1, one, invite("Via: SIP/2.0/WS one.invalid;branch=z9hG4bK-one-1", "call-1"));
    await sent(sip1, other, options("Via: SIP/2.0/WS other.invalid;branch=z9hG4bK-other-1", "other-options"));
    one.ws.close();
    await new Promise<void>((resolve) => one.ws.once("close", () => resolve()));
    await settled();
    expect(sip1.links.send("SIP1", fromSip1("BYE", "call-1"))).toBe(true);
    expect(sip1.drops).toEqual(["ws-call-gone"]);
    const again = await connect(sip1.url);
    await sent(sip1, again, ["INFO sip:bob@127.0.0.1 SIP/2.0", "Via: SIP/2.0/WS one.invalid;branch=z9hG4bK-one-2", "Max-Forwards: 70", "From: <sip:alice@example.com>;tag=a1", "To: <sip:bob@127.0.0.1>;tag=b1", "Call-ID: call-1", "CSeq: 2 INFO", "Content-Length: 0", "", ""].join("\r\n"));
    expect(sip1.links.send("SIP1", fromSip1("BYE", "call-1", 2))).toBe(true);
    await settled();
    expect(requests(again, "call-1")).toEqual(["BYE"]);
    expect(requests(other, "call-1")).toEqual([]);
    expect(sip1.drops).toEqual(["ws-call-gone"]);
  });

  it("a call ends with its BYE's answer or its INVITE's failure; a call never carried over WebSocket is left to the other transports", async () => {
    const sip1 = await sip1Links();
    const one = await connect(sip1.url);
    await sent(sip1, one, invite("Via: SIP/2.0/WS one.invalid;branch=z9hG4bK-one-1", "call-1"));
    await sent(sip1, one, bye("Via: SIP/2.0/WS one.invalid;branch=z9hG4bK-one-2", "call-1"));
    expect(sip1.links.send("SIP1", answerFromSip1(sip1.delivered.at(-1)!, 200, "OK"))).toBe(true);
    await sent(sip1, one, invite("Via: SIP/2.0/WS one.invalid;branch=z9hG4bK-one-3", "call-2"));
    const call2 = sip1.delivered.at(-1)!;
    // a 100 or a CANCEL's 200 (same branch) leaves the call; the 487 ends it
    expect(sip1.links.send("SIP1", answerFromSip1(call2, 100, "Trying"))).toBe(true);
    expect(sip1.links.send("SIP1", answerFromSip1(call2.replace("CSeq: 1 INVITE", "CSeq: 1 CANCEL"), 200, "OK"))).toBe(true);
    expect(sip1.links.send("SIP1", fromSip1("UPDATE", "call-2"))).toBe(true);
    expect(sip1.links.send("SIP1", answerFromSip1(call2, 487, "Request Terminated"))).toBe(true);
    await sent(sip1, one, invite("Via: SIP/2.0/WS one.invalid;branch=z9hG4bK-one-4", "call-3"));
    expect(sip1.links.send("SIP1", answerFromSip1(sip1.delivered.at(-1)!, 200, "OK"))).toBe(true);
    for (const callId of ["call-1", "call-2", "call-3"]) expect(sip1.links.send("SIP1", fromSip1("BYE", callId, 5))).toBe(true);
    expect(sip1.links.send("SIP1", fromSip1("BYE", "never-over-ws"))).toBe(false);
    await settled();
    expect(requests(one, "call-1")).toEqual([]);
    expect(requests(one, "call-2")).toEqual(["UPDATE"]);
    expect(requests(one, "call-3")).toEqual(["BYE"]);
    expect(sip1.drops).toEqual(["ws-call-gone", "ws-call-gone"]);
  });

  it("a connection with more than 64 calls has its least recently used forgotten", async () => {
    const sip1 = await sip1Links();
    const c = await connect(sip1.url);
    await sent(sip1, c, invite("Via: SIP/2.0/WS c.invalid;branch=z9hG4bK-c-first", "first"));
    await sent(sip1, c, invite("Via: SIP/2.0/WS c.invalid;branch=z9hG4bK-c-kept", "kept"));
    for (let i = 0; i < 63; i++) {
      if (i === 30) await sent(sip1, c, bye("Via: SIP/2.0/WS c.invalid;branch=z9hG4bK-c-kept-bye", "kept")); // used again: not the oldest
      await sent(sip1, c, invite(`Via: SIP/2.0/WS c.invalid;branch=z9hG4bK-c-${i}`, `call-${i}`));
    }
    for (const callId of ["first", "kept", "call-0", "call-62"]) expect(sip1.links.send("SIP1", fromSip1("INFO", callId))).toBe(true);
    await settled();
    expect(requests(c, "first")).toEqual([]);
    expect(sip1.drops).toEqual(["ws-call-gone"]);
    for (const callId of ["kept", "call-0", "call-62"]) expect(requests(c, callId), callId).toEqual(["INFO"]);
  });
});

describe("SIP over WebSocket through the lab: the callee's requests by call", () => {
  it("two callers: the callee's re-INVITE in call 1 goes to caller 1 though caller 2 sent the last request", async () => {
    lab = await startLab({ wsPort: 0, answerDelayMs: 0, reinvites: [{ by: "callee", afterMs: 300, hold: true }] });
    const url = lab.endpoints.SIP1!.ws!;
    const one = await connect(url);
    const two = await connect(url);
    one.ws.send(invite("Via: SIP/2.0/WS one.invalid;branch=z9hG4bK-one-1", "lab-call-1"));
    expect(await answered(one, "lab-call-1", 200)).toBe(true);
    // the ACK (RFC 3261 §13.2.2.4) along the route set the 200 recorded (§12.1.2: its Record-Route reversed)
    const ok = parseSipMessage(Buffer.from(one.got.find((m) => m.startsWith("SIP/2.0 200 ") && m.includes("lab-call-1"))!, "latin1"));
    const routes = ok.getHeaders("Record-Route").flatMap((v) => v.split(",")).map((v) => v.trim()).reverse();
    const target = /<([^>]+)>/.exec(ok.getHeaders("Contact")[0]!)![1]!;
    one.ws.send([`ACK ${target} SIP/2.0`, "Via: SIP/2.0/WS one.invalid;branch=z9hG4bK-one-ack", "Max-Forwards: 70", ...routes.map((r) => `Route: ${r}`), "From: <sip:alice@example.com>;tag=a1", `To: ${ok.getHeaders("To")[0]}`, "Call-ID: lab-call-1", "CSeq: 1 ACK", "Content-Length: 0", "", ""].join("\r\n"));
    two.ws.send(options("Via: SIP/2.0/WS two.invalid;branch=z9hG4bK-two-1", "two-options"));
    expect(await answered(two, "two-options", 200)).toBe(true);
    let reinvited = false;
    for (let i = 0; i < 100 && !reinvited; i++) {
      reinvited = requests(one, "lab-call-1").includes("INVITE");
      if (!reinvited) await new Promise((r) => setTimeout(r, 50));
    }
    expect(reinvited).toBe(true);
    expect(requests(two, "lab-call-1")).toEqual([]);
  });
});
