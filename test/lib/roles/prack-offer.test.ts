// An offer in a PRACK (RFC 3262 §5): the INVITE offered, the callee's reliable 180 answered, and the caller's PRACK
// offers again. The callee answers it in the PRACK's 200 (RFC 3264), and each proxy treats it as a media change, as
// an UPDATE's offer: REQ LDP with TLV 9, the routers' classifiers follow (DEC Install of the new, Remove of the old),
// and a change the policy refuses gets 488 while the old media stay.
import { describe, expect, it } from "vitest";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeCopsMessage, decodeSipAaaClientSi, parseProvisioningDecision } from "../../../protocols/cops/index.js";
import { parseSipMessage, type SipResponse } from "../../../protocols/sip/index.js";
import type { MessageRecord } from "../../../lib/drivers/message-record.js";
import { mediaFlows } from "../../../lib/flow/media-flows.js";
import { runCalls } from "../../../lib/flow/run-calls.js";
import type { FaultSpec, RunOptions } from "../../../lib/flow/run-types.js";
import { runCheckLadderTool } from "../../../lib/replay/check-ladder-tool.js";
import { splitCallLadder, writeJsonLines } from "../../../lib/replay/ladder-json.js";
import { parseScenario, toRunOptions } from "../../../lib/replay/scenario.js";

const SCENARIO = `name: prack-offer
seed: 5
topology:
  clearinghouse: osp-http
  signedTokens: true
calls:
  - id: prack-offer
    caller: sip:alice@example.com
    callee: sip:bob@example.net
    answerDelayMs: 1000
    durationMs: 3000
    require100rel: true
`;
const NEW_ADDRESS = "198.51.100.9";

/** The scenario with the caller's offer in its PRACK (moving its media to NEW_ADDRESS), and these faults. */
function options(faults: FaultSpec[] = [], driver: "memory" | "net" = "memory"): RunOptions {
  const opts = toRunOptions(parseScenario(SCENARIO, "prack-offer.yaml"), { driver });
  opts.calls[0]!.reinvites = [{ by: "caller", afterMs: 0, hold: false, method: "PRACK", mediaAddress: NEW_ADDRESS }];
  if (faults.length > 0) opts.faults = faults;
  return opts;
}

const sip = (r: MessageRecord) => parseSipMessage(r.bytes);
const hop = (r: MessageRecord) => `${r.from}>${r.to} ${r.msg}`;
const isPrack = (r: MessageRecord) => r.proto === "SIP" && r.msg === "PRACK";
const answersPrack = (r: MessageRecord) => r.proto === "SIP" && /^\d{3} /.test(r.msg) && (sip(r) as SipResponse).cseq.method === "PRACK";
const tuples = (offer: string, answer: string) => mediaFlows(offer, answer).map((f) => `${f.src.address}:${f.src.port}>${f.dst.address}:${f.dst.port}`).sort();

/** The REQ LDPs a proxy sent, as their TLV 9 media change numbers (undefined for the setup's). */
function ldps(records: MessageRecord[], proxy: string): Array<number | undefined> {
  return records
    .filter((r) => r.proto === "COPS" && r.from === proxy && r.msg === "REQ LDP")
    .map((r) => {
      const m = decodeCopsMessage(r.bytes);
      return m.op === "REQ" ? decodeSipAaaClientSi(m.clientSi[0]!.data).mediaChange : undefined;
    });
}

/** Each DEC Install (with its 5-tuples) and DEC Remove (with how many classifiers) a policy server sent its router. */
function decisions(records: MessageRecord[], pol: string, router: string): string[] {
  return records
    .filter((r) => r.proto === "COPS" && r.from === pol && r.to === router && (r.msg === "DEC Install" || r.msg === "DEC Remove"))
    .map((r) => {
      const dec = parseProvisioningDecision(decodeCopsMessage(r.bytes));
      if (r.msg === "DEC Remove") return `DEC Remove ${dec.remove.length}`;
      return `DEC Install ${dec.install.map((f) => `${f.srcAddress}:${f.srcPort}>${f.dstAddress}:${f.dstPort}`).sort().join(" ")}`;
    });
}

describe("an offer in a PRACK (RFC 3262 §5)", () => {
  for (const driver of ["memory", "net"] as const)
    it(`${driver} driver: the callee answers it in the PRACK's 200; each proxy asks again (TLV 9 1) and its router installs the new flows and removes the old`, { timeout: 60_000 }, async () => {
      const result = await runCalls(options([], driver));
      const [call] = result.calls;
      expect(call!.finalStatusAtCaller).toBe(200);
      expect(call!.established).toBe(true);
      const records = result.records;
      const pracks = records.filter(isPrack);
      expect(pracks.map(hop)).toEqual(["UAC>SIP1 PRACK", "SIP1>SIP2 PRACK", "SIP2>UAS PRACK"]);
      const offer = sip(pracks[2]!).body.toString("utf8");
      expect(offer).toContain(`c=IN IP4 ${NEW_ADDRESS}`);
      const oks = records.filter(answersPrack);
      expect(oks.map(hop)).toEqual(["UAS>SIP2 200 OK", "SIP2>SIP1 200 OK", "SIP1>UAC 200 OK"]);
      const answer = sip(oks[0]!).body.toString("utf8");
      expect(answer).toMatch(/^v=0\r\n/);
      // the 18x's answer, and the setup's flows, named the caller's first address
      const invite = records.find((r) => r.proto === "SIP" && r.msg === "INVITE" && r.from === "UAC")!;
      const ringing = records.find((r) => r.proto === "SIP" && r.from === "UAS" && r.msg === "180 Ringing")!;
      const before = tuples(sip(invite).body.toString("utf8"), sip(ringing).body.toString("utf8"));
      const after = tuples(offer, answer);
      expect(after).not.toEqual(before);
      expect(after.join(" ")).toContain(NEW_ADDRESS);
      for (const proxy of ["SIP1", "SIP2"]) expect(ldps(records, proxy)).toEqual([undefined, 1]);
      // the PRACK was held at each proxy until its DEC LDP: the REQ LDP comes before the PRACK goes on
      const at = (pred: (r: MessageRecord) => boolean) => records.findIndex(pred);
      expect(at((r) => r.from === "SIP1" && r.msg === "REQ LDP" && ldps([r], "SIP1")[0] === 1)).toBeLessThan(at((r) => isPrack(r) && r.from === "SIP1"));
      // each router: the setup's flows, the PRACK's, the setup's removed, then the PRACK's removed at the end
      for (const [pol, router] of [["POL1", "R1"], ["POL2", "R2"]] as const) {
        expect(decisions(records, pol, router)).toEqual([`DEC Install ${before.join(" ")}`, `DEC Install ${after.join(" ")}`, "DEC Remove 2", "DEC Remove 2"]);
      }
      expect(result.leftovers).toEqual({ classifiers: 0, copsRequestStates: 0, pendingTransactions: 0 });
      expect(result.cdrs.map((c) => c.role).sort()).toEqual(["destination", "source"]);
      // the ladder split puts the PRACK exchange and the policy updates it caused apart: FIG. 5 still holds
      const { setup, prack } = splitCallLadder(records.filter((r) => r.callId === call!.callId));
      expect(prack.filter((r) => r.proto === "COPS" && r.msg === "REQ LDP").map(hop)).toEqual(["SIP1>POL1 REQ LDP", "SIP2>POL2 REQ LDP"]);
      const file = join(mkdtempSync(join(tmpdir(), "callgate-prack-offer-")), "setup.jsonl");
      writeJsonLines(file, setup);
      const fig5 = runCheckLadderTool(file, "setup");
      expect(fig5.output).toMatch(/all 28 steps in causal order/);
      expect(fig5.ok).toBe(true);
    });

  it("refused by the policy (R2 cannot install it): 488 to the PRACK, the old media back at R1 and kept at R2, the 180 PRACKed again without an offer", { timeout: 30_000 }, async () => {
    const result = await runCalls(options([{ kind: "deny", role: "R2", nth: 2 }]));
    const [call] = result.calls;
    expect(call!.finalStatusAtCaller).toBe(200);
    expect(call!.established).toBe(true);
    const records = result.records;
    // SIP2 refuses the offer before it reaches the callee; the caller PRACKs the 180 again, without SDP
    const pracks = records.filter(isPrack);
    expect(pracks.map(hop)).toEqual(["UAC>SIP1 PRACK", "SIP1>SIP2 PRACK", "UAC>SIP1 PRACK", "SIP1>SIP2 PRACK", "SIP2>UAS PRACK"]);
    expect(pracks.map((r) => sip(r).body.length > 0)).toEqual([true, true, false, false, false]);
    const answers = records.filter(answersPrack);
    expect(answers.map(hop)).toEqual(["SIP2>SIP1 488 Not Acceptable Here", "SIP1>UAC 488 Not Acceptable Here", "UAS>SIP2 200 OK", "SIP2>SIP1 200 OK", "SIP1>UAC 200 OK"]);
    expect(sip(answers[0]!).getHeader("Reason")).toMatch(/^SIP;cause=488/);
    const invite = records.find((r) => r.proto === "SIP" && r.msg === "INVITE" && r.from === "UAC")!;
    const ringing = records.find((r) => r.proto === "SIP" && r.from === "UAS" && r.msg === "180 Ringing")!;
    const before = tuples(sip(invite).body.toString("utf8"), sip(ringing).body.toString("utf8"));
    const moved = tuples(sip(pracks[0]!).body.toString("utf8"), sip(ringing).body.toString("utf8"));
    // SIP2 asked once (refused); SIP1 asked, was let through, and after the 488 asks back to the old media
    expect(ldps(records, "SIP2")).toEqual([undefined, 1]);
    expect(ldps(records, "SIP1")).toEqual([undefined, 1, 2]);
    expect(decisions(records, "POL1", "R1")).toEqual([`DEC Install ${before.join(" ")}`, `DEC Install ${moved.join(" ")}`, "DEC Remove 2", `DEC Install ${before.join(" ")}`, "DEC Remove 2", "DEC Remove 2"]);
    // R2 was refused the new flows and keeps the old ones until the call ends
    expect(decisions(records, "POL2", "R2")).toEqual([`DEC Install ${before.join(" ")}`, `DEC Install ${moved.join(" ")}`, "DEC Remove 2"]);
    expect(result.leftovers).toEqual({ classifiers: 0, copsRequestStates: 0, pendingTransactions: 0 });
    expect(result.cdrs.map((c) => c.role).sort()).toEqual(["destination", "source"]);
  });
});
