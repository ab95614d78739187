// A call whose INVITE requires 100rel (RFC 3262) and carries the offer: the reliable 180 is PRACKed, and the PRACK's
// 200 travels back over the proxies as the INVITE's 200 does. FIG. 5 draws no PRACK, so the ladder writers put the
// PRACK transactions in a file of their own; FIG. 5 then passes check-ladder 28/28 and FIG. 6 18/18 on both drivers.
import { afterAll, describe, expect, it } from "vitest";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { MessageRecord } from "../../../lib/drivers/message-record.js";
import { runCalls } from "../../../lib/flow/run-calls.js";
import { runCheckLadderTool } from "../../../lib/replay/check-ladder-tool.js";
import { checkExpectations } from "../../../lib/replay/expectations.js";
import { fromJsonLines, isPrackTransaction, separatePrack, splitCallLadder, transactionMethod, writeJsonLines } from "../../../lib/replay/ladder-json.js";
import { parseScenario, toRunOptions } from "../../../lib/replay/scenario.js";
import { killStartedProcesses, spawnCli } from "../../support/cli-process.js";
import { replayInProcess } from "../../support/replay-in-process.js";

const dir = mkdtempSync(join(tmpdir(), "callgate-prack-ladder-"));
const SCENARIO = `name: prack-early-offer
seed: 3
topology:
  clearinghouse: osp-http
  signedTokens: true
calls:
  - id: reliable-180
    caller: sip:alice@example.com
    callee: sip:bob@example.net
    answerDelayMs: 1000
    durationMs: 3000
    require100rel: true
    expect:
      finalStatus: 200
      established: true
      flow: fig5-fig6
`;
const scenarioFile = join(dir, "prack.yaml");

const hop = (r: MessageRecord) => `${r.from}>${r.to} ${r.msg}`;
const PRACK_HOPS = ["UAC>SIP1 PRACK", "SIP1>SIP2 PRACK", "SIP2>UAS PRACK", "UAS>SIP2 200 OK", "SIP2>SIP1 200 OK", "SIP1>UAC 200 OK"];

afterAll(() => killStartedProcesses());

describe("100rel with the offer in the INVITE: PRACK transactions apart from FIG. 5", () => {
  for (const driver of ["memory", "net"] as const)
    it(`${driver} driver: the setup passes FIG. 5 28/28 without the PRACK exchange, the teardown FIG. 6 18/18, the PRACK file holds every hop of it`, { timeout: 60_000 }, async () => {
      const scenario = parseScenario(SCENARIO, "prack.yaml");
      const result = await runCalls(toRunOptions(scenario, { driver }));
      const report = checkExpectations(scenario, result);
      expect(report.failures).toEqual([]);
      const [call] = result.calls;
      const mine = result.records.filter((r) => r.callId === call!.callId);
      const { challenge, setup, prack, midCall, teardown } = splitCallLadder(mine);
      expect(challenge).toEqual([]);
      expect(midCall).toEqual([]);
      // the exchange in order, each hop once: no retransmission on a loss-free run
      expect(prack.map(hop)).toEqual(PRACK_HOPS);
      expect(setup.some(isPrackTransaction)).toBe(false);
      // nothing lost or doubled by the split
      expect(challenge.length + setup.length + prack.length + midCall.length + teardown.length).toBe(mine.length);

      writeJsonLines(join(dir, `${driver}.setup.jsonl`), setup);
      writeJsonLines(join(dir, `${driver}.teardown.jsonl`), teardown);
      writeJsonLines(join(dir, `${driver}.unsplit.jsonl`), [...setup, ...prack].sort((a, b) => a.t - b.t));
      const fig5 = runCheckLadderTool(join(dir, `${driver}.setup.jsonl`), "setup");
      expect(fig5.output).toMatch(/all 28 steps in causal order/);
      expect(fig5.ok).toBe(true);
      const fig6 = runCheckLadderTool(join(dir, `${driver}.teardown.jsonl`), "teardown");
      expect(fig6.output).toMatch(/all 18 steps in causal order/);
      expect(fig6.ok).toBe(true);
      // with the PRACK's 200s left in, FIG. 5's steps 23-25 repeat
      const unsplit = runCheckLadderTool(join(dir, `${driver}.unsplit.jsonl`), "setup");
      expect(unsplit.ok).toBe(false);
      expect(unsplit.output).toMatch(/step 23 \(SIP\|UAS\|SIP2\|200 OK\) appears 2 times/);
      if (driver === "net") writeJsonLines(join(dir, "net.records.jsonl"), result.records);
    });

  it("callgate replay --ladder-json writes OUT.prack.jsonl beside the setup and teardown halves", { timeout: 30_000 }, async () => {
    writeFileSync(scenarioFile, SCENARIO);
    const base = join(dir, "replay");
    const out = await replayInProcess([scenarioFile, "--ladder-json", `${base}.jsonl`]);
    expect(out.stderr).toBe("");
    expect(out.code).toBe(0);
    expect(out.stdout).toContain(`wrote ${base}.setup.jsonl\nwrote ${base}.prack.jsonl\nwrote ${base}.teardown.jsonl\n`);
    expect(existsSync(`${base}.midcall.jsonl`)).toBe(false);
    expect(fromJsonLines(readFileSync(`${base}.prack.jsonl`, "utf8")).map(hop)).toEqual(PRACK_HOPS);
    expect(runCheckLadderTool(`${base}.setup.jsonl`, "setup").output).toMatch(/all 28 steps in causal order/);
    expect(runCheckLadderTool(`${base}.teardown.jsonl`, "teardown").output).toMatch(/all 18 steps in causal order/);
  });

  // reads the records the net driver's case above wrote
  it("callgate serve merge --split writes OUT.prack.jsonl from the socket run's records", { timeout: 60_000 }, async () => {
    const records = fromJsonLines(readFileSync(join(dir, "net.records.jsonl"), "utf8"));
    const callId = records.find((r) => r.proto === "SIP" && r.msg === "INVITE")!.callId;
    const base = join(dir, "merged");
    const merge = spawnCli("serve", ["merge", "--call", callId, "--split", base, join(dir, "net.records.jsonl")]);
    expect(await merge.closed).toBe(0);
    expect(fromJsonLines(readFileSync(`${base}.prack.jsonl`, "utf8")).map(hop)).toEqual(PRACK_HOPS);
    expect(runCheckLadderTool(`${base}.setup.jsonl`, "setup").output).toMatch(/all 28 steps in causal order/);
    expect(runCheckLadderTool(`${base}.teardown.jsonl`, "teardown").output).toMatch(/all 18 steps in causal order/);
  });
});

describe("callgate serve merge --split of a challenged call", () => {
  const sip = (t: number, from: string, to: string, msg: string, cseq: string): MessageRecord => ({
    t, proto: "SIP", from, to, msg, callId: "c1", bytes: Buffer.from(`${/^\d/.test(msg) ? `SIP/2.0 ${msg}` : `${msg} sip:b@example.net SIP/2.0`}\r\nTo: <sip:b@example.net>\r\nCSeq: ${cseq}\r\nContent-Length: 0\r\n\r\n`),
  });

  it("writes the 407 exchange to OUT.challenge.jsonl and starts the setup at the INVITE with credentials", { timeout: 60_000 }, async () => {
    const records = [sip(0, "UAC", "SIP1", "INVITE", "1 INVITE"), sip(1, "SIP1", "UAC", "407 Proxy Authentication Required", "1 INVITE"), sip(2, "UAC", "SIP1", "ACK", "1 ACK"), sip(3, "UAC", "SIP1", "INVITE", "2 INVITE"), sip(4, "SIP1", "SIP2", "INVITE", "2 INVITE"), sip(9, "UAC", "SIP1", "BYE", "3 BYE")];
    const file = join(dir, "challenged.records.jsonl");
    writeJsonLines(file, records);
    const base = join(dir, "challenged");
    const merge = spawnCli("serve", ["merge", "--call", "c1", "--split", base, file]);
    expect(await merge.closed).toBe(0);
    expect(fromJsonLines(readFileSync(`${base}.challenge.jsonl`, "utf8")).map((r) => r.t)).toEqual([0, 1, 2]);
    expect(fromJsonLines(readFileSync(`${base}.setup.jsonl`, "utf8")).map((r) => r.t)).toEqual([3, 4]);
    expect(fromJsonLines(readFileSync(`${base}.teardown.jsonl`, "utf8")).map((r) => r.t)).toEqual([9]);
    expect(existsSync(`${base}.prack.jsonl`)).toBe(false);
  });
});

describe("separatePrack", () => {
  const sip = (msg: string, cseq: string, t: number): MessageRecord => ({ t, proto: "SIP", from: "A", to: "B", msg, callId: "c", bytes: Buffer.from(`${/^\d/.test(msg) ? `SIP/2.0 ${msg}` : `${msg} sip:b@example.net SIP/2.0`}\r\nCSeq: ${cseq}\r\nContent-Length: 0\r\n\r\n`) });
  const cops = (msg: string, t: number): MessageRecord => ({ t, proto: "COPS", from: "SIP2", to: "POL2", msg, callId: "c", bytes: Buffer.alloc(8) });

  it("takes each response by its CSeq method, and the COPS messages while a PRACK is open, and leaves the rest in order", () => {
    const records = [sip("INVITE", "1 INVITE", 0), cops("REQ LDP", 1), sip("180 Ringing", "1 INVITE", 2), sip("PRACK", "2 PRACK", 3), cops("REQ LDP", 4), cops("DEC LDP", 5), sip("200 OK", "2 prack", 6), sip("200 OK", "1 INVITE", 7), cops("RPT", 8)];
    expect(records.map(transactionMethod)).toEqual(["INVITE", undefined, "INVITE", "PRACK", undefined, undefined, "PRACK", "INVITE", undefined]);
    const { rest, prack } = separatePrack(records);
    expect(prack.map((r) => r.t)).toEqual([3, 4, 5, 6]);
    expect(rest.map((r) => r.t)).toEqual([0, 1, 2, 7, 8]);
  });

  it("leaves a ladder without PRACK whole, and a response without CSeq in it", () => {
    const noCseq: MessageRecord = { t: 1, proto: "SIP", from: "A", to: "B", msg: "200 OK", callId: "c", bytes: Buffer.from("SIP/2.0 200 OK\r\n\r\n") };
    const records = [sip("INVITE", "1 INVITE", 0), noCseq];
    expect(separatePrack(records)).toEqual({ rest: records, prack: [] });
  });
});
