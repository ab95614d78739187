// A served policy server's accounting across its restarts, in process against this project's RADIUS server on
// loopback (the real processes and FreeRADIUS are in test/interop/radius-accounting-serve.test.ts): a session
// left open goes on with its Interim-Updates from the journal, its Start not sent again; a session whose Stop
// the spool already holds (a crash between spooling the Stop and closing the session) gets no Interim-Update.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { startServedAccounting } from "../../../lib/accounting/serve-export.js";
import { parseSessionJournal } from "../../../lib/accounting/sessions.js";
import { CallEventBus } from "../../../lib/flow/call-events.js";
import { AcctStatusType, RadiusCode, RadiusUdpServer, attributeValue } from "../../../protocols/radius/index.js";

const dir = mkdtempSync(join(tmpdir(), "acct-serve-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const STATUS = Object.fromEntries(Object.entries(AcctStatusType).map(([name, code]) => [code, name]));

async function recordingServer() {
  const seen: { session: string; status: string; sessionTime: number | undefined }[] = [];
  const s = await RadiusUdpServer.listen({
    port: 0,
    secretFor: () => "s3cret",
    handler: (p) => {
      seen.push({ session: attributeValue(p, "Acct-Session-Id") as string, status: STATUS[attributeValue(p, "Acct-Status-Type") as number]!, sessionTime: attributeValue(p, "Acct-Session-Time") as number | undefined });
      return { code: RadiusCode.AccountingResponse, attributes: [] };
    },
  });
  return { s, seen };
}

async function until(what: string, done: () => boolean, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("served accounting across a restart", () => {
  it("a session left open: the next process sends its Interim-Updates on (session time from the first Start), no second Start, one Stop, and closes it", async () => {
    const server = await recordingServer();
    const settings = { servers: [`udp:127.0.0.1:${server.s.address().port}`], secret: "s3cret", spool: join(dir, "a.spool"), interimSeconds: 1 };
    const bus1 = new CallEventBus();
    // the first process as the deploy file starts it: a call installed, then the process goes (no usage seen)
    const running = await startServedAccounting(settings, "POL1", join(dir, "deploy.yaml"), bus1);
    bus1.publish({ type: "decision", callId: "c1", role: "POL1", purpose: "Install", allow: true });
    await until("the Start", () => server.seen.some((r) => r.status === "Start"));
    await running.close(5000);
    expect(parseSessionJournal(readFileSync(`${settings.spool}.POL1.sessions`, "utf8")).open.map((s) => s.callId)).toEqual(["c1"]);
    const bus2 = new CallEventBus();
    const again = await startServedAccounting(settings, "POL1", join(dir, "deploy.yaml"), bus2);
    await until("two interims after the restart", () => server.seen.filter((r) => r.status === "Interim-Update").length >= 2);
    bus2.publish({ type: "usage", callId: "c1", role: "POL1", durationS: 4, packets: 1, octets: 100, reported: "local" });
    await until("the Stop", () => server.seen.some((r) => r.status === "Stop"));
    await again.close(5000);
    expect(server.seen.filter((r) => r.status === "Start")).toHaveLength(1);
    expect(server.seen.filter((r) => r.status === "Stop")).toHaveLength(1);
    const times = server.seen.filter((r) => r.status === "Interim-Update").map((r) => r.sessionTime!);
    expect(new Set(times).size).toBe(times.length);
    expect(times.every((t) => t >= 1)).toBe(true);
    expect(parseSessionJournal(readFileSync(`${settings.spool}.POL1.sessions`, "utf8")).open).toEqual([]);
    await server.s.close();
  }, 60_000);

  it("a session still open in the journal whose Stop the spool holds is closed on the restart, with no Interim-Update", async () => {
    const server = await recordingServer();
    const settings = { servers: [`udp:127.0.0.1:${server.s.address().port}`], secret: "s3cret", spool: join(dir, "b.spool"), interimSeconds: 1 };
    const bus1 = new CallEventBus();
    const first = await startServedAccounting(settings, "POL1", join(dir, "deploy.yaml"), bus1);
    bus1.publish({ type: "decision", callId: "c2", role: "POL1", purpose: "Install", allow: true });
    bus1.publish({ type: "usage", callId: "c2", role: "POL1", durationS: 0, packets: 0, octets: 0, reported: "local" });
    await first.close(5000);
    // as if killed after the Stop was spooled and before the session was closed
    const journal = `${settings.spool}.POL1.sessions`;
    writeFileSync(journal, `${JSON.stringify({ open: "c2;originating", callId: "c2", side: "originating", startMs: Date.now() - 5000 })}\n`);
    const again = await startServedAccounting(settings, "POL1", join(dir, "deploy.yaml"), new CallEventBus());
    expect(again.recorder.nextDeadline()).toBeUndefined();
    await new Promise((r) => setTimeout(r, 1500)); // an interim due would be sent meanwhile
    await again.close(5000);
    expect(server.seen.map((r) => r.status).sort()).toEqual(["Start", "Stop"]);
    expect(parseSessionJournal(readFileSync(journal, "utf8")).open).toEqual([]);
    await server.s.close();
  }, 60_000);
});
