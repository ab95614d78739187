// Octets by direction against a real FreeRADIUS: `callgate replay … --radius-acct` of two calls, one held by
// its caller and one by its callee (a=sendonly), leaves Stops in the detail file whose Acct-Input-Octets are
// the octets the side's user sent and Acct-Output-Octets those it received (RFC 2866 §5.3, §5.4): both non-zero,
// equal to the usage the policy servers reported, the holder's direction the larger.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CallEventBus, type CallEventOf } from "../../lib/flow/call-events.js";
import { runCalls } from "../../lib/flow/run-calls.js";
import type { RunOptions } from "../../lib/flow/run-types.js";
import { replayMain } from "../../lib/replay/replay-command.js";
import { freeUdpPort, startFreeradiusLab } from "../support/freeradius-lab.mjs";
import { readDetail, type Lab } from "./radius-accounting-helpers.js";

const SECRET = "direction-secret";
const dir = mkdtempSync(join(tmpdir(), "radius-direction-"));
let lab: Lab | undefined;
let acctPort = 0;

beforeAll(async () => {
  acctPort = await freeUdpPort();
  lab = await startFreeradiusLab({ dir, secret: SECRET, authPort: await freeUdpPort(), acctPort });
}, 60_000);

afterAll(async () => {
  await lab?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const SCENARIO = `name: held-calls
seed: 3
topology:
  clearinghouse: none
calls:
  - id: caller-holds
    caller: sip:alice@example.com
    callee: sip:bob@example.net
    answerDelayMs: 500
    durationMs: 30000
    reinvites:
      - {by: caller, afterMs: 10000, hold: true}
  - id: callee-holds
    startMs: 1000
    caller: sip:carol@example.com
    callee: sip:dave@example.net
    answerDelayMs: 500
    durationMs: 30000
    reinvites:
      - {by: callee, afterMs: 5000, hold: true}
`;

describe("octets by direction in FreeRADIUS's detail file", () => {
  it("each Stop has the octets from its side's user as input and to it as output, as the policy servers counted them", async () => {
    const scenario = join(dir, "held-calls.yaml");
    writeFileSync(scenario, SCENARIO);
    const usage: CallEventOf<"usage">[] = [];
    // the run's own usage events, beside the export (which listens on the same bus)
    const runner = (o: RunOptions) => {
      const events = o.events ?? new CallEventBus();
      events.on("usage", (e) => usage.push(e));
      return runCalls({ ...o, events });
    };
    let stdout = "";
    const code = await replayMain([scenario, "--radius-acct", `udp:127.0.0.1:${acctPort}`, "--radius-secret", SECRET, "--radius-spool", join(dir, "spool")], {
      stdout: { write: (t: string) => (stdout += t), isTTY: false }, stderr: { write: (t: string) => (stdout += t) }, env: {}, runner, version: "test",
    });
    expect(code, stdout).toBe(0);
    expect(stdout).toMatch(/accounting: 8 record\(s\) answered/);
    expect(usage.filter((u) => u.reported !== "pending")).toHaveLength(4);
    const stops = readDetail(lab!.detailFile).filter((r) => r["Acct-Status-Type"] === "Stop");
    expect(stops).toHaveLength(4);
    for (const u of usage) {
      const side = u.role === "POL1" ? "originating" : "terminating";
      const stop = stops.find((r) => r["Acct-Session-Id"] === `${u.callId};${side}`);
      expect(stop, `${u.callId} ${side}`).toBeDefined();
      const fromUser = side === "originating" ? u.octetsFromCaller! : u.octetsFromCallee!;
      const toUser = side === "originating" ? u.octetsFromCallee! : u.octetsFromCaller!;
      expect(fromUser + toUser).toBe(u.octets);
      expect([stop!["Acct-Input-Octets"], stop!["Acct-Output-Octets"], stop!["Acct-Input-Gigawords"], stop!["Acct-Output-Gigawords"]], `${u.callId} ${side}`).toEqual([String(fromUser), String(toUser), "0", "0"]);
      expect(fromUser).toBeGreaterThan(0);
      expect(toUser).toBeGreaterThan(0);
      // the holder sends for the whole call (about 30 s), the other end only until the hold (10 s or 5 s)
      const holderIsUser = (u.callId === "caller-holds") === (side === "originating");
      const [more, less] = holderIsUser ? [fromUser, toUser] : [toUser, fromUser];
      expect(more, `${u.callId} ${side}`).toBeGreaterThan(2 * less);
    }
  }, 120_000);
});
