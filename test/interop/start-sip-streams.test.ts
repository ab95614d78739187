// Started SIP proxies and user agents over streams (RFC 3261 §18): a SIPp caller over TCP through startSipProxy
// (transport "tcp", COPS to a started policy server and its edge router) to a callee started with startUserAgent
// over TCP; and the same roles over TLS with test certificates (mutual TLS), a started caller placing the call.
import { connect } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import type { MessageRecord } from "../../lib/drivers/message-record.js";
import type { CallEvent } from "../../lib/flow/call-events.js";
import { startEdgeRouter, startPolicyServer, startSipProxy, startUserAgent, type RoleHandle } from "../../lib/start/index.js";
import { makeTestPki } from "../support/tls-test-pki.js";
import { findFile, freePort, readSippScreen, readSippStats, sippPath, startSipp, workDir } from "./sip-sipp-helpers.js";

const started: RoleHandle[] = [];

afterEach(async () => {
  for (const h of started.splice(0).reverse()) await h.close();
});

async function until(what: string, done: () => boolean, ms = 30_000): Promise<void> {
  for (const end = Date.now() + ms; !done(); ) {
    if (Date.now() > end) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const answer = () => ({ outcome: "answer" as const, answerDelayMs: 50, durationMs: 0, hangsUp: false });

describe("startSipProxy and startUserAgent over TCP and TLS", () => {
  it("SIPp's callers over TCP: every call through the proxy to the callee over TCP succeeds, policed by COPS, each message on a stream", { timeout: 120_000 }, async () => {
    expect(sippPath(), "SIPp (Debian package sip-tester) is needed").toBeDefined();
    const calls = 5;
    const pdp = await startPolicyServer({ name: "POL1", router: "r1" });
    started.push(pdp);
    const decisions: CallEvent[] = [];
    pdp.events.on("decision", (e) => decisions.push(e));
    const router = await startEdgeRouter({ name: "R1", pepId: "r1", pdp: pdp.addresses.cops ?? "" });
    started.push(router);
    const calleePort = await freePort();
    const proxyRecords: MessageRecord[] = [];
    const proxy = await startSipProxy({
      name: "SIP1", host: "sip1.example.com", transport: "tcp", pdp: pdp.addresses.cops ?? "", pdpName: "POL1",
      nextHop: { host: "127.0.0.1", port: calleePort }, nextHopName: "bob", onRecord: (r) => proxyRecords.push(r),
    });
    started.push(proxy);
    expect(proxy.addresses.sip).toMatch(/^127\.0\.0\.1:\d+;transport=tcp$/);
    const callee = await startUserAgent({ name: "bob", transport: "tcp", listen: { host: "127.0.0.1", port: calleePort }, proxy: hostPort(proxy), proxyName: "SIP1", behaviour: answer });
    started.push(callee);
    const answered: CallEvent[] = [];
    callee.events.on("terminated", (e) => answered.push(e));

    const dir = workDir("callgate-start-tcp-");
    const run = await startSipp(
      ["-sn", "uac", "-t", "t1", "-m", String(calls), "-r", "5", "-d", "200", "-s", "15551234567", hostPort(proxy), "-i", "127.0.0.1", "-p", String(await freePort()), "-nostdin", "-timeout", "60", "-trace_stat", "-trace_screen", "-fd", "1"],
      dir,
    ).done;
    const stats = readSippStats(findFile(dir, ".csv"));
    expect(stats["SuccessfulCall(C)"], `${run.stdout}\n${run.stderr}`).toBe(String(calls));
    expect(stats["FailedCall(C)"]).toBe("0");
    // TCP is reliable: no retransmission by SIPp (RFC 3261 §17.1.1.2), nothing unexpected.
    expect(readSippScreen(findFile(dir, "_screen.log"))).toMatchObject({ retransmissions: 0, unexpected: 0 });
    await until("every call released by the proxy and the callee", () => proxy.node.activeCalls === 0 && answered.length === calls);
    expect(decisions.filter((e) => e.type === "decision" && e.purpose === "AAA" && e.allow)).toHaveLength(calls);
    expect(router.node.classifiers.size).toBe(0);
    // One classifier per direction of each call's audio, each installed once and removed.
    expect(router.node.installs).toBe(2 * calls);
    expect(router.node.removals).toBe(2 * calls);
    // Every SIP message the proxy sent went over a TCP connection, to SIPp and to the callee.
    const sip = proxyRecords.filter((r) => r.proto === "SIP");
    expect(new Set(sip.map((r) => r.to === "bob" ? "bob" : "caller"))).toEqual(new Set(["bob", "caller"]));
    expect(sip.filter((r) => r.transport?.kind !== "tcp")).toEqual([]);
    for (const method of ["INVITE", "ACK", "BYE"]) expect(sip.filter((r) => r.to === "bob" && r.msg === method), method).toHaveLength(calls);
  });

  it("over TLS with mutual certificates: a started caller's call through the proxy to the callee connects and ends; a plain TCP client is refused", { timeout: 120_000 }, async () => {
    const pki = makeTestPki(["POL1", "SIP1", "alice", "bob"]);
    const errors: string[] = [];
    const onError = (where: string, err: unknown) => errors.push(`${where}: ${String(err)}`);
    const onDrop = (proto: string, cause: string, detail: string) => errors.push(`drop ${proto} ${cause} ${detail}`);
    const tlsOf = (node: string) => ({ caPem: pki.caPem, credentials: { [node]: pki.credentials[node] ?? { certificatePem: "", keyPem: "" } }, sip: true, requireClientCert: true });
    const pdp = await startPolicyServer({ name: "POL1", router: "r1" });
    started.push(pdp);
    started.push(await startEdgeRouter({ name: "R1", pepId: "r1", pdp: pdp.addresses.cops ?? "" }));
    const calleePort = await freePort();
    const callerPort = await freePort();
    const proxyRecords: MessageRecord[] = [];
    // Under mutual TLS a caller is known by name (its certificate names it): its Via's sent-by is its listener.
    const proxy = await startSipProxy({
      name: "SIP1", host: "sip1.example.com", transport: "tls", tls: tlsOf("SIP1"), onError, onDrop, pdp: pdp.addresses.cops ?? "", pdpName: "POL1",
      nextHop: { host: "127.0.0.1", port: calleePort }, nextHopName: "bob", callers: { alice: { host: "127.0.0.1", port: callerPort } }, onRecord: (r) => proxyRecords.push(r),
    });
    started.push(proxy);
    expect(proxy.addresses.sip).toMatch(/^127\.0\.0\.1:\d+;transport=tls$/);
    const callee = await startUserAgent({ name: "bob", transport: "tls", tls: tlsOf("bob"), onError, onDrop, listen: { host: "127.0.0.1", port: calleePort }, proxy: hostPort(proxy), proxyName: "SIP1", behaviour: answer });
    started.push(callee);
    const callId = "tls-through-proxy@example.com";
    const caller = await startUserAgent({
      name: "alice", transport: "tls", tls: tlsOf("alice"), onError, onDrop, listen: { host: "127.0.0.1", port: callerPort }, proxy: hostPort(proxy), proxyName: "SIP1",
      calls: [{ callId, from: "sip:alice@example.com", to: "sip:bob@example.net", startMs: 0, durationMs: 500, hangUp: "caller" }],
    });
    started.push(caller);
    const seen: CallEvent[] = [];
    caller.events.on("*", (e) => seen.push(e));
    await until("the call ended at the caller", () => seen.some((e) => e.type === "terminated")).catch((err: unknown) => {
      throw new Error(`${String(err)}\n${errors.join("\n")}\n${proxyRecords.map((r) => `${r.from}>${r.to} ${r.msg}`).join("\n")}`);
    });
    expect(seen.some((e) => e.type === "established" && e.callId === callId)).toBe(true);
    await until("the proxy released the call", () => proxy.node.activeCalls === 0);
    const sip = proxyRecords.filter((r) => r.proto === "SIP" && r.callId === callId);
    expect(sip.filter((r) => r.from === "SIP1").map((r) => `${r.to} ${r.msg}`)).toEqual(expect.arrayContaining(["bob INVITE", "alice 200 OK", "bob ACK", "bob BYE", "alice 200 OK"]));
    expect(sip.filter((r) => r.transport?.kind !== "tcp")).toEqual([]);
    // The forwarded INVITE's Via and Record-Route name the proxy's TLS listener (RFC 3261 §18.2.1, §16.6 step 4).
    const invite = sip.find((r) => r.msg === "INVITE" && r.to === "bob")?.bytes.toString() ?? "";
    expect(invite).toContain(`\r\nVia: SIP/2.0/TLS ${hostPort(proxy)};`);
    expect(invite).toContain(`\r\nRecord-Route: <sip:${hostPort(proxy)};transport=tls;lr>`);
    expect(errors).toEqual([]);

    // A client speaking plain TCP to the TLS listener: its INVITE is never taken, the connection is closed.
    const plain = connect({ host: "127.0.0.1", port: Number(hostPort(proxy).split(":")[1]) });
    let closed = false;
    plain.on("close", () => (closed = true));
    plain.on("error", () => undefined);
    plain.write("INVITE sip:bob@example.net SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bKplain\r\nMax-Forwards: 70\r\nTo: <sip:bob@example.net>\r\nFrom: <sip:eve@example.com>;tag=1\r\nCall-ID: plain@example.com\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n");
    await until("the plain connection closed by the proxy", () => closed);
    expect(proxyRecords.some((r) => r.callId === "plain@example.com")).toBe(false);
  });
});

function hostPort(h: RoleHandle): string {
  return (h.addresses.sip ?? "").replace(/;transport=\w+$/, "");
}
