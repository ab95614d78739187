// The accounting recorder and spool without a server: which records a call's events make (Start, Interim-
// Update, Stop with gigawords and the cause of its end), and what a spool left by a killed process gives back.
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseAccountingServer } from "../../../lib/accounting/exporter.js";
import { AccountingRecorder, terminateCause } from "../../../lib/accounting/records.js";
import { AccountingSpool } from "../../../lib/accounting/spool.js";

const dir = mkdtempSync(join(tmpdir(), "acct-unit-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const recorder = () => new AccountingRecorder({ nasIdentifier: "gw1", interimIntervalS: 60, describe: () => ({ caller: "sip:alice@example.com", callee: "sip:+4930@example.net" }) });
const T = Date.parse("2026-06-10T08:00:00Z");
const attrs = (r: { attributes: [string, string | number][] }) => Object.fromEntries(r.attributes);

describe("AccountingRecorder", () => {
  it("Start per side on establishment, Interim-Updates on the interval, Stop with octets split into gigawords", () => {
    const rec = recorder();
    const starts = [...rec.onEvent({ type: "established", callId: "c1", role: "UAC", at: 0 }, T), ...rec.onEvent({ type: "established", callId: "c1", role: "UAS", at: 0 }, T)];
    expect(starts.map((r) => r.key)).toEqual(["c1;originating|Start", "c1;terminating|Start"]);
    expect(attrs(starts[0]!)).toMatchObject({ "Acct-Status-Type": "Start", "User-Name": "alice@example.com", "Event-Timestamp": T / 1000, "NAS-Identifier": "gw1" });
    expect(attrs(starts[1]!)["User-Name"]).toBe("+4930@example.net");
    expect(rec.nextDeadline()).toBe(T + 60_000);
    expect(rec.tick(T + 59_999)).toEqual([]);
    expect(rec.tick(T + 125_000).map((r) => [r.key, attrs(r)["Acct-Session-Time"]])).toEqual([
      ["c1;originating|Interim-Update|1", 60], ["c1;originating|Interim-Update|2", 120],
      ["c1;terminating|Interim-Update|1", 60], ["c1;terminating|Interim-Update|2", 120],
    ]);
    rec.onEvent({ type: "terminated", callId: "c1", role: "UAC", at: 0, status: 200, endedBy: "callee" }, T + 130_000);
    const [stop] = rec.onEvent({ type: "usage", callId: "c1", role: "POL1", durationS: 130, packets: 6500, octets: 2 ** 32 + 5, reported: "local" }, T + 130_000);
    expect(attrs(stop!)).toMatchObject({ "Acct-Session-Time": 130, "Acct-Input-Octets": 5, "Acct-Input-Gigawords": 1, "Acct-Input-Packets": 6500, "Acct-Terminate-Cause": "Host-Request" });
    // a usage event again (a retried report) is not a second Stop
    expect(rec.onEvent({ type: "usage", callId: "c1", role: "POL1", durationS: 130, packets: 6500, octets: 1, reported: "clearinghouse" }, T + 131_000)).toEqual([]);
    expect(rec.onEvent({ type: "usage", callId: "c1", role: "POL2", durationS: 130, packets: 1, octets: 1, reported: "local" }, T + 131_000)).toHaveLength(1);
    expect(rec.open).toBe(0);
  });

  it("a policy server: Start when the router installed the policy, interims, Stop; a media change's install is no second Start; the call is forgotten at its Stop", () => {
    const rec = new AccountingRecorder({ nasIdentifier: "callgate-POL2", interimIntervalS: 1, startOnInstall: true, startFromUsage: true, describe: () => undefined });
    expect(rec.onEvent({ type: "decision", callId: "c2", role: "POL2", purpose: "AAA", allow: true }, T)).toEqual([]);
    const [start] = rec.onEvent({ type: "decision", callId: "c2", role: "POL2", purpose: "Install", allow: true }, T + 200);
    expect(start?.key).toBe("c2;terminating|Start");
    expect(attrs(start!)["Event-Timestamp"]).toBe(Math.floor((T + 200) / 1000));
    expect(rec.onEvent({ type: "decision", callId: "c2", role: "POL2", purpose: "Install", allow: true }, T + 1500)).toEqual([]);
    expect(rec.onEvent({ type: "decision", callId: "c2", role: "POL1", purpose: "Install", allow: false }, T + 1500)).toEqual([]);
    expect(rec.tick(T + 2200).map((r) => [r.key, attrs(r)["Acct-Session-Time"]])).toEqual([["c2;terminating|Interim-Update|1", 1], ["c2;terminating|Interim-Update|2", 2]]);
    const stop = rec.onEvent({ type: "usage", callId: "c2", role: "POL2", durationS: 3, packets: 150, octets: 24000, reported: "local" }, T + 3200);
    expect(stop.map((r) => r.status)).toEqual(["Stop"]);
    expect(attrs(stop[0]!)).toMatchObject({ "Acct-Session-Time": 3, "Acct-Input-Octets": 24000 });
    expect(rec.open).toBe(0);
    expect(rec.nextDeadline()).toBeUndefined();
    // restarted mid-call (its Start time lost): the usage makes the Start again under the same key, dated back
    const restarted = new AccountingRecorder({ nasIdentifier: "callgate-POL2", interimIntervalS: 1, startOnInstall: true, startFromUsage: true, describe: () => undefined });
    const again = restarted.onEvent({ type: "usage", callId: "c2", role: "POL2", durationS: 3, packets: 150, octets: 24000, reported: "local" }, T + 3200);
    expect(again.map((r) => [r.key, r.eventMs])).toEqual([["c2;terminating|Start", T + 200], ["c2;terminating|Stop", T + 3200]]);
  });

  it("maps how a call ended to Acct-Terminate-Cause (RFC 2866 §5.10) from each side", () => {
    expect(terminateCause("originating", true, { endedBy: "caller" }, false)).toBe("User-Request");
    expect(terminateCause("terminating", true, { endedBy: "caller" }, false)).toBe("Host-Request");
    expect(terminateCause("originating", true, { endedBy: "caller" }, true)).toBe("Session-Timeout");
    expect(terminateCause("originating", false, { status: 486 }, false)).toBe("Host-Request");
    expect(terminateCause("originating", false, { status: 487 }, false)).toBe("User-Request");
    expect(terminateCause("originating", false, { status: 408 }, false)).toBe("Idle-Timeout");
    expect(terminateCause("originating", false, { status: 503 }, false)).toBe("Service-Unavailable");
  });

  it("parses udp:HOST:PORT and refuses anything else with the reason", () => {
    expect(parseAccountingServer("udp:127.0.0.1:1813")).toEqual({ address: "127.0.0.1", port: 1813 });
    expect(parseAccountingServer("udp:[::1]")).toEqual({ address: "::1", port: 1813 });
    expect(() => parseAccountingServer("tcp:1.2.3.4:1813")).toThrow(/is not udp:HOST:PORT/);
    expect(() => parseAccountingServer("udp:h:70000")).toThrow(/port 70000 is outside/);
  });
});

describe("AccountingSpool", () => {
  it("gives back what a killed process left: unanswered records with their last bytes, answered keys, a torn last line ignored", () => {
    const path = join(dir, "spool");
    const rec = recorder();
    const records = rec.onEvent({ type: "established", callId: "c9", role: "UAC", at: 0 }, T);
    records.push(...rec.onEvent({ type: "usage", callId: "c9", role: "POL1", durationS: 5, packets: 1, octets: 1, reported: "local" }, T + 5000));
    const first = AccountingSpool.open(path, AccountingSpool.recover(path), 40000);
    first.accept(records);
    first.sent(records[0]!.key, "127.0.0.1:1813", Buffer.from("first-bytes"));
    first.answered(records[0]!.key);
    first.sent(records[1]!.key, "127.0.0.1:1813", Buffer.from("stop-bytes"));
    first.close();
    appendFileSync(path, '{"ack":"c9;origin'); // killed in the middle of a line
    const state = AccountingSpool.recover(path);
    expect(state.localPort).toBe(40000);
    expect(state.badLines).toBe(1);
    expect([...state.answered]).toEqual(["c9;originating|Start"]);
    expect(state.pending.map((p) => [p.record.key, p.lastSent?.to, p.lastSent?.datagram.toString()])).toEqual([["c9;originating|Stop", "127.0.0.1:1813", "stop-bytes"]]);
    // reopened: rewritten with what is still needed, and the new port
    AccountingSpool.open(path, state, 40001).close();
    expect(readFileSync(path, "utf8").split("\n").filter(Boolean).map((l) => Object.keys(JSON.parse(l))[0])).toEqual(["v", "ack", "rec", "sent"]);
    expect(AccountingSpool.recover(path).localPort).toBe(40001);
  });
});
