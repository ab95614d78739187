import { describe, expect, it } from "vitest";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import fc from "fast-check";
import type { MessageRecord } from "../../../lib/drivers/message-record.js";
import { matchFlow } from "../../../lib/replay/flow-match.js";
import { REFERENCE_FLOWS } from "../../../lib/replay/reference-flows.js";
import { runCheckLadderTool } from "../../../lib/replay/check-ladder-tool.js";
import { mirrorLadder, splitCallLadder, toJsonLines, fromJsonLines, byeSender } from "../../../lib/replay/ladder-json.js";
import { syntheticCall } from "./synthetic-call.js";

const dir = mkdtempSync(join(tmpdir(), "callgate-ladder-"));
let fileNo = 0;
function tool(records: MessageRecord[], flow: "setup" | "teardown", noClearinghouse = false) {
  const file = join(dir, `ladder-${fileNo++}.jsonl`);
  writeFileSync(file, toJsonLines(records));
  return runCheckLadderTool(file, flow, { noClearinghouse });
}
/** The tool's problem lines (everything but its summary line). */
const toolProblems = (output: string) => output.split("\n").filter((l) => l && !/^(setup|teardown): /.test(l));

describe("reference flows embedded in the package", () => {
  it("equal ../shared/reference/wo0135294-flows.json step for step", () => {
    const ref = JSON.parse(readFileSync(resolve(process.cwd(), "../shared/reference/wo0135294-flows.json"), "utf8"));
    const strip = (steps: any[]) => steps.map(({ step, proto, from, to, msg, after }) => ({ step, proto, from, to, msg, after }));
    expect(strip([...REFERENCE_FLOWS.setup])).toEqual(strip(ref.setup));
    expect(strip([...REFERENCE_FLOWS.teardown])).toEqual(strip(ref.teardown));
  });
});

describe("ladder JSON lines and the setup/teardown split", () => {
  it("round-trips records with their bytes", () => {
    const call = syntheticCall();
    const back = fromJsonLines(toJsonLines(call));
    expect(back).toHaveLength(call.length);
    expect(back[0]!.bytes.equals(call[0]!.bytes)).toBe(true);
    expect(back.map((r) => r.msg)).toEqual(call.map((r) => r.msg));
  });

  it("splits one call at its first BYE", () => {
    const call = syntheticCall({ withExtras: true });
    const { setup, teardown } = splitCallLadder(call);
    expect(setup.at(-1)!.msg).toBe("ACK");
    expect(teardown[0]!.msg).toBe("BYE");
    expect(setup.length + teardown.length).toBe(call.length);
    expect(splitCallLadder(call).midCall).toEqual([]);
    expect(splitCallLadder(call.slice(0, 5)).teardown).toEqual([]);
    expect(byeSender(syntheticCall({ hangUp: "callee" }))).toBe("UAS");
  });
});

describe("check-ladder: synthetic ladders that must pass", () => {
  const cases: Array<[string, MessageRecord[], boolean]> = [
    ["FIG. 5/6", syntheticCall(), false],
    ["FIG. 5/6 with 100 Trying and keep-alives", syntheticCall({ withExtras: true }), false],
    ["no clearinghouse", syntheticCall({ noClearinghouse: true }), true],
  ];
  for (const [name, call, noCh] of cases)
    it(`${name}: setup and teardown pass the reference tool and the built-in matcher`, () => {
      const { setup, teardown } = splitCallLadder(call);
      for (const [flow, ladder] of [["setup", setup], ["teardown", teardown]] as const) {
        const verdict = tool(ladder, flow, noCh);
        expect(verdict.output).toContain("in causal order");
        expect(verdict.ok).toBe(true);
        expect(matchFlow(ladder, flow, { noClearinghouse: noCh }).ok).toBe(true);
      }
    });

  it("callee hang-up: the teardown passes once mirrored, not as recorded", () => {
    const { teardown } = splitCallLadder(syntheticCall({ hangUp: "callee" }));
    expect(tool(teardown, "teardown").ok).toBe(false);
    expect(tool(mirrorLadder(teardown), "teardown").ok).toBe(true);
    expect(matchFlow(mirrorLadder(teardown), "teardown").ok).toBe(true);
  });
});

describe("check-ladder: synthetic ladders that must fail", () => {
  const { setup, teardown } = splitCallLadder(syntheticCall());
  const without = (list: MessageRecord[], msg: string, from: string) => list.filter((r) => !(r.msg === msg && r.from === from));
  const swap = (list: MessageRecord[], i: number, j: number) => {
    const copy = [...list];
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
    return copy;
  };
  const idx = (list: MessageRecord[], msg: string, from: string) => list.findIndex((r) => r.msg === msg && r.from === from);
  const cases: Array<[string, MessageRecord[], "setup" | "teardown", boolean, string]> = [
    ["a missing DEC LDP", without(setup, "DEC LDP", "POL1"), "setup", false, "missing"],
    ["180 forwarded before DEC LDP", swap(setup, idx(setup, "DEC LDP", "POL2"), idx(setup, "180 Ringing", "SIP2")), "setup", false, "does not come after"],
    ["an INVITE sent twice", [...setup.slice(0, 1), setup[0]!, ...setup.slice(1)], "setup", false, "appears 2 times"],
    ["OSP on the wire without a clearinghouse", setup, "setup", true, "OSP message on the wire"],
    ["DEC Remove before REQ noLDP", swap(teardown, idx(teardown, "REQ noLDP", "SIP1"), idx(teardown, "DEC Remove", "POL1")), "teardown", false, "does not come after"],
    ["no UsageIndication", without(teardown, "UsageIndication", "POL2"), "teardown", false, "missing"],
  ];
  for (const [name, ladder, flow, noCh, expected] of cases)
    it(`${name}: both checkers fail with the same problems`, () => {
      const verdict = tool(ladder, flow, noCh);
      expect(verdict.ok).toBe(false);
      expect(verdict.exitCode).toBe(1);
      expect(verdict.output).toContain(expected);
      const match = matchFlow(ladder, flow, { noClearinghouse: noCh });
      expect(match.ok).toBe(false);
      expect(match.problems.map((p) => p.text)).toEqual(toolProblems(verdict.output));
      expect(match.firstDivergence).toBeDefined();
    });

  it("points at the first diverging message", () => {
    const broken = without(setup, "DEC AAA", "POL2");
    const match = matchFlow(broken, "setup");
    expect(match.firstDivergence!.text).toBe("step 10 missing: COPS|POL2|SIP2|DEC AAA");
    // it was due right after step 9 (AuthorisationResponse to POL2)
    expect(broken[match.firstDivergence!.ladderIndex! - 1]!.msg).toBe("AuthorisationResponse");
  });
});

describe("built-in matcher agrees with the reference tool on random damage", () => {
  it("deletions, swaps and duplicates of the FIG. 5 ladder", () => {
    const { setup } = splitCallLadder(syntheticCall());
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom("drop", "swap", "dup"), fc.nat(setup.length - 1), fc.nat(setup.length - 1)), { maxLength: 3 }),
        (edits) => {
          let ladder = [...setup];
          for (const [op, i, j] of edits) {
            const a = i % ladder.length;
            const b = j % ladder.length;
            if (op === "drop") ladder.splice(a, 1);
            else if (op === "dup") ladder.splice(a, 0, ladder[a]!);
            else [ladder[a], ladder[b]] = [ladder[b]!, ladder[a]!];
          }
          ladder = ladder.filter(Boolean);
          const verdict = tool(ladder, "setup");
          const match = matchFlow(ladder, "setup");
          expect(match.ok).toBe(verdict.ok);
          expect(match.problems.map((p) => p.text)).toEqual(toolProblems(verdict.output));
        },
      ),
      { numRuns: 12, seed: 7 },
    );
  });
});
