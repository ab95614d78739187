// The lab's outside callers over UDP and TCP, all one peer name: each call's requests go back to the source or
// connection its own requests came from (RFC 3261 §12.2), never to another caller's; each response to the source of
// its transaction's request, else by its Via (§18.2.2, RFC 3581 §4) only where a caller sent from; a second TCP
// caller's connection lives beside the first.
import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { createConnection, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import type { SendAction } from "../../../lib/drivers/node.js";
import { SipPeers } from "../../../lib/drivers/sip-peers.js";
import { SipUdpTransport, type UdpEndpoint } from "../../../lib/drivers/sip-udp-transport.js";
import { ListenerGates } from "../../../lib/drivers/socket-listeners.js";
import { callerDriverContext, type CallerDriverContext } from "../../support/caller-driver-context.js";
import { StreamLinks } from "../../../lib/drivers/stream-links.js";

const closers: (() => void)[] = [];
afterEach(() => {
  for (const close of closers.splice(0)) close();
});


/** Waits until `cond` holds; fails after 2 s. */
async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !cond(); i++) await new Promise((r) => setTimeout(r, 20));
  expect(cond()).toBe(true);
}

/** Waits a little for messages in flight to land (a check that something did not arrive). */
async function settled(): Promise<void> {
  await new Promise((r) => setTimeout(r, 100));
}

function invite(via: string, callId: string): string {
  return ["INVITE sip:bob@127.0.0.1 SIP/2.0", via, "Max-Forwards: 70", "From: <sip:alice@example.com>;tag=a1", "To: <sip:bob@127.0.0.1>", `Call-ID: ${callId}`, "CSeq: 1 INVITE", "Contact: <sip:alice@127.0.0.1>", "Content-Length: 0", "", ""].join("\r\n");
}

function options(via: string, callId: string): string {
  return ["OPTIONS sip:127.0.0.1 SIP/2.0", via, "Max-Forwards: 70", "From: <sip:b@example.com>;tag=b1", "To: <sip:127.0.0.1>", `Call-ID: ${callId}`, "CSeq: 1 OPTIONS", "Content-Length: 0", "", ""].join("\r\n");
}

/** A request from SIP1 in call `callId` toward the caller, as SIP1's send action carries it. */
function fromSip1(method: string, callId: string, cseq = 1): SendAction {
  const text = [`${method} sip:alice@127.0.0.1 SIP/2.0`, `Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-sip1-${method}-${callId}-${cseq}`, "Max-Forwards: 70", "From: <sip:bob@127.0.0.1>;tag=b1", "To: <sip:alice@example.com>;tag=a1", `Call-ID: ${callId}`, `CSeq: ${cseq} ${method}`, "Content-Length: 0", "", ""].join("\r\n");
  return { type: "send", proto: "SIP", to: "UAC", bytes: Buffer.from(text, "latin1"), label: method, callId };
}

/** SIP1's response with the top Via `via` (as SIP1 stamped it) in call `callId`. */
function responseFromSip1(via: string, callId: string, status: number, reason: string, method = "INVITE"): SendAction {
  const text = [`SIP/2.0 ${status} ${reason}`, via, "From: <sip:alice@example.com>;tag=a1", "To: <sip:bob@127.0.0.1>;tag=b1", `Call-ID: ${callId}`, `CSeq: 1 ${method}`, "Content-Length: 0", "", ""].join("\r\n");
  return { type: "send", proto: "SIP", to: "UAC", bytes: Buffer.from(text, "latin1"), label: `${status} ${reason}`, callId };
}

/** Messages `got` holds in `callId`: requests by method, responses by status. */
function inCall(got: string[], callId: string): string[] {
  return got.filter((m) => m.includes(`\r\nCall-ID: ${callId}\r\n`)).map((m) => (m.startsWith("SIP/2.0 ") ? m.slice(8, 11) : m.slice(0, m.indexOf(" "))));
}

interface Phone {
  sock: UdpSocket;
  port: number;
  got: string[];
}

async function udpPhone(): Promise<Phone> {
  const sock = createSocket("udp4");
  closers.push(() => sock.close());
  const got: string[] = [];
  sock.on("message", (m) => got.push(m.toString("latin1")));
  await new Promise<void>((r) => sock.bind(0, "127.0.0.1", () => r()));
  return { sock, port: sock.address().port, got };
}

async function udpSip1(): Promise<{ sip1: CallerDriverContext; transport: SipUdpTransport; port: number }> {
  const sip1 = callerDriverContext();
  const ep: UdpEndpoint = { bound: {} };
  const transport = new SipUdpTransport(sip1.context, new SipPeers(undefined), (node) => (node === "SIP1" ? ep : undefined));
  ep.udp = await transport.bind("SIP1");
  closers.push(() => ep.udp!.close());
  const a = ep.udp.address();
  ep.bound.sipUdp = { host: a.address, port: a.port };
  return { sip1, transport, port: a.port };
}

describe("the lab's outside callers over UDP", () => {
  async function sendFrom(sip1: CallerDriverContext, phone: Phone, to: number, text: string): Promise<void> {
    const before = sip1.delivered.length;
    phone.sock.send(Buffer.from(text, "latin1"), to, "127.0.0.1");
    await until(() => sip1.delivered.length === before + 1);
  }

  it("call 1's BYE from the callee reaches caller 1 though caller 2 sent last, and call 2's reaches caller 2", async () => {
    const { sip1, transport, port } = await udpSip1();
    const one = await udpPhone();
    const two = await udpPhone();
    await sendFrom(sip1, one, port, invite(`Via: SIP/2.0/UDP 127.0.0.1:${one.port};branch=z9hG4bK-one-1`, "call-1"));
    await sendFrom(sip1, two, port, invite(`Via: SIP/2.0/UDP 127.0.0.1:${two.port};branch=z9hG4bK-two-1`, "call-2"));
    await sendFrom(sip1, two, port, options(`Via: SIP/2.0/UDP 127.0.0.1:${two.port};branch=z9hG4bK-two-2`, "two-options"));
    transport.send("SIP1", fromSip1("BYE", "call-1"));
    transport.send("SIP1", fromSip1("BYE", "call-2"));
    await until(() => inCall(one.got, "call-1").length === 1 && inCall(two.got, "call-2").length === 1);
    await settled();
    expect(inCall(one.got, "call-1")).toEqual(["BYE"]);
    expect(inCall(two.got, "call-1")).toEqual([]);
    expect(inCall(two.got, "call-2")).toEqual(["BYE"]);
    expect(inCall(one.got, "call-2")).toEqual([]);
    expect(sip1.drops).toEqual([]);
  });

  it("a response goes to its transaction's source, else by its stamped Via (received, rport) to a caller that sent from there; never to an address no caller sent from", async () => {
    const { sip1, transport, port } = await udpSip1();
    const one = await udpPhone();
    const two = await udpPhone();
    // caller 1 names caller 2's address in its Via: its transaction's answers still come back to caller 1
    const viaOne = `Via: SIP/2.0/UDP 127.0.0.1:${two.port};branch=z9hG4bK-one-1`;
    await sendFrom(sip1, one, port, invite(viaOne, "call-1"));
    await sendFrom(sip1, two, port, options(`Via: SIP/2.0/UDP 127.0.0.1:${two.port};branch=z9hG4bK-two-1`, "two-options"));
    transport.send("SIP1", responseFromSip1(`${viaOne};received=127.0.0.1;rport=${two.port}`, "call-1", 180, "Ringing"));
    // a transaction SIP1 never got from a caller here: answered where its received/rport say, a caller's source
    transport.send("SIP1", responseFromSip1(`Via: SIP/2.0/UDP 10.0.0.9:5099;branch=z9hG4bK-lost;received=127.0.0.1;rport=${two.port}`, "lost", 200, "OK", "OPTIONS"));
    // a Via naming a loopback address no caller sent from: dropped and counted, not reflected there
    const stranger = await udpPhone();
    transport.send("SIP1", responseFromSip1(`Via: SIP/2.0/UDP 127.0.0.1:${stranger.port};branch=z9hG4bK-reflect`, "reflect", 200, "OK", "OPTIONS"));
    await until(() => inCall(one.got, "call-1").length === 1 && inCall(two.got, "lost").length === 1);
    await settled();
    expect(inCall(one.got, "call-1")).toEqual(["180"]);
    expect(inCall(two.got, "call-1")).toEqual([]);
    expect(inCall(two.got, "lost")).toEqual(["200"]);
    expect(stranger.got).toEqual([]);
    expect(sip1.drops).toEqual(["caller-unknown-destination"]);
  });

  it("a request in a call that ended (its BYE answered) or that no caller sent is dropped and counted, not sent to the last source", async () => {
    const { sip1, transport, port } = await udpSip1();
    const one = await udpPhone();
    const viaInvite = `Via: SIP/2.0/UDP 127.0.0.1:${one.port};branch=z9hG4bK-one-1`;
    await sendFrom(sip1, one, port, invite(viaInvite, "call-1"));
    const viaBye = `Via: SIP/2.0/UDP 127.0.0.1:${one.port};branch=z9hG4bK-one-2`;
    await sendFrom(sip1, one, port, ["BYE sip:bob@127.0.0.1 SIP/2.0", viaBye, "Max-Forwards: 70", "From: <sip:alice@example.com>;tag=a1", "To: <sip:bob@127.0.0.1>;tag=b1", "Call-ID: call-1", "CSeq: 2 BYE", "Content-Length: 0", "", ""].join("\r\n"));
    transport.send("SIP1", responseFromSip1(viaBye, "call-1", 200, "OK", "BYE"));
    transport.send("SIP1", fromSip1("INFO", "call-1", 3));
    transport.send("SIP1", fromSip1("BYE", "never-sent"));
    await until(() => inCall(one.got, "call-1").length === 1);
    await settled();
    expect(inCall(one.got, "call-1")).toEqual(["200"]);
    expect(inCall(one.got, "never-sent")).toEqual([]);
    expect(sip1.drops).toEqual(["caller-call-gone", "caller-call-unknown"]);
  });
});

interface TcpPhone {
  sock: Socket;
  got: string[];
  closed: boolean;
}

async function tcpPhone(port: number): Promise<TcpPhone> {
  const sock = createConnection({ host: "127.0.0.1", port });
  closers.push(() => sock.destroy());
  const phone: TcpPhone = { sock, got: [], closed: false };
  let buf = "";
  sock.on("data", (d: Buffer) => {
    buf += d.toString("latin1");
    // every message here has Content-Length: 0: it ends at its empty line
    for (let end = buf.indexOf("\r\n\r\n"); end >= 0; end = buf.indexOf("\r\n\r\n")) {
      phone.got.push(buf.slice(0, end + 4));
      buf = buf.slice(end + 4);
    }
  });
  sock.on("error", () => undefined);
  sock.on("close", () => (phone.closed = true));
  await new Promise<void>((r) => sock.once("connect", () => r()));
  return phone;
}

async function tcpSip1(): Promise<{ sip1: CallerDriverContext; links: StreamLinks; port: number }> {
  const sip1 = callerDriverContext();
  const links = new StreamLinks(sip1.context, new ListenerGates(sip1.context.options), new SipPeers(undefined));
  const server = await links.listen("SIP1", "SIP");
  closers.push(() => {
    links.destroy();
    server.close();
  });
  return { sip1, links, port: (server.address() as { port: number }).port };
}

describe("the lab's outside callers over TCP", () => {
  async function sendOn(sip1: CallerDriverContext, phone: TcpPhone, text: string): Promise<void> {
    const before = sip1.delivered.length;
    phone.sock.write(text);
    await until(() => sip1.delivered.length === before + 1);
  }

  it("a second caller's connection does not close the first; call 1's BYE goes on caller 1's connection though caller 2 sent last", async () => {
    const { sip1, links, port } = await tcpSip1();
    const one = await tcpPhone(port);
    await sendOn(sip1, one, invite("Via: SIP/2.0/TCP 127.0.0.1:5071;branch=z9hG4bK-one-1", "call-1"));
    const two = await tcpPhone(port);
    await sendOn(sip1, two, invite("Via: SIP/2.0/TCP 127.0.0.1:5072;branch=z9hG4bK-two-1", "call-2"));
    await sendOn(sip1, two, options("Via: SIP/2.0/TCP 127.0.0.1:5072;branch=z9hG4bK-two-2", "two-options"));
    await settled();
    expect(one.closed).toBe(false);
    expect(links.sendToCaller("SIP1", fromSip1("BYE", "call-1"))).toBe(true);
    expect(links.sendToCaller("SIP1", fromSip1("BYE", "call-2"))).toBe(true);
    // each response on the connection its request came on
    expect(links.sendToCaller("SIP1", responseFromSip1("Via: SIP/2.0/TCP 127.0.0.1:5071;branch=z9hG4bK-one-1", "call-1", 180, "Ringing"))).toBe(true);
    expect(links.sendToCaller("SIP1", responseFromSip1("Via: SIP/2.0/TCP 127.0.0.1:5072;branch=z9hG4bK-two-2", "two-options", 200, "OK", "OPTIONS"))).toBe(true);
    await until(() => inCall(one.got, "call-1").length === 2 && inCall(two.got, "call-2").length === 1);
    await settled();
    expect(inCall(one.got, "call-1")).toEqual(["BYE", "180"]);
    expect(inCall(two.got, "call-1")).toEqual([]);
    expect(inCall(two.got, "call-2")).toEqual(["BYE"]);
    expect(inCall(one.got, "call-2")).toEqual([]);
    expect(inCall(two.got, "two-options")).toEqual(["200"]);
    expect(sip1.drops).toEqual([]);
  });

  it("a call whose connection closed: its requests are dropped and counted, not sent on another caller's; a call never over TCP is UDP's", async () => {
    const { sip1, links, port } = await tcpSip1();
    const one = await tcpPhone(port);
    const two = await tcpPhone(port);
    await sendOn(sip1, one, invite("Via: SIP/2.0/TCP 127.0.0.1:5071;branch=z9hG4bK-one-1", "call-1"));
    await sendOn(sip1, two, options("Via: SIP/2.0/TCP 127.0.0.1:5072;branch=z9hG4bK-two-1", "two-options"));
    one.sock.destroy();
    await until(() => one.closed);
    await settled();
    expect(links.sendToCaller("SIP1", fromSip1("BYE", "call-1"))).toBe(true);
    expect(links.sendToCaller("SIP1", fromSip1("BYE", "over-udp"))).toBe(false);
    await settled();
    expect(two.got).toEqual([]);
    expect(two.closed).toBe(false);
    expect(sip1.drops).toEqual(["caller-call-gone"]);
  });
});
