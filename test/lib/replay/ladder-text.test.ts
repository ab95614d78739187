import { describe, expect, it } from "vitest";
import type { MessageRecord } from "../../../lib/drivers/message-record.js";
import { colorWanted, renderLadderText } from "../../../lib/replay/ladder-text.js";
import { syntheticCall } from "./synthetic-call.js";

const ANSI = /\u001b\[[0-9;]*m/g;
const rec = (t: number, proto: MessageRecord["proto"], from: string, to: string, msg: string): MessageRecord => ({ t, proto, from, to, msg, callId: "c1", bytes: Buffer.alloc(0) });

/** Role name → column of its lifeline, read from the header line. */
function columns(header: string, roles: string[]): Map<string, number> {
  const map = new Map<string, number>();
  for (const role of roles) {
    const at = new RegExp(`(^|\\s)${role}(\\s|$)`).exec(header);
    if (!at) throw new Error(`role ${role} not in header`);
    const start = at.index + at[1]!.length;
    map.set(role, start + Math.floor(role.length / 2));
  }
  return map;
}

describe("terminal ladder", () => {
  const records = [
    rec(0, "SIP", "UAC", "SIP1", "INVITE"),
    rec(1.5, "COPS", "SIP1", "POL1", "REQ AAA"),
    rec(12, "OSP", "POL1", "CH", "AuthorisationRequest"),
    rec(20, "OSP", "CH", "POL1", "AuthorisationResponse"),
    rec(2500, "SIP", "UAS", "SIP2", "180 Ringing"),
    rec(3000, "RADIUS", "SIP2", "UAS", "Access-Request"),
  ];

  it("draws one column per role in reference order and each arrow between its two lifelines, head at the receiver", () => {
    const text = renderLadderText(records, { color: false });
    const lines = text.split("\n");
    const roles = ["UAC", "SIP1", "POL1", "CH", "SIP2", "UAS"];
    const header = lines[0]!;
    const col = columns(header, roles);
    expect([...col.keys()]).toEqual(roles);
    // left to right in reference order
    const xs = roles.map((r) => col.get(r)!);
    expect([...xs].sort((a, b) => a - b)).toEqual(xs);
    const body = lines.slice(1, 1 + records.length);
    expect(body).toHaveLength(records.length);
    body.forEach((line, k) => {
      const r = records[k]!;
      const a = col.get(r.from)!;
      const b = col.get(r.to)!;
      // every other role's lifeline still shows on the row
      if (r.to === "SIP1" || r.from === "SIP1") expect(line[col.get("UAC")!]).toBe("|");
      if (b > a) {
        expect(line[b - 1]).toBe(">");
        expect(line[a + 1]).toBe("-");
        expect(line.slice(a + 1, b)).not.toContain("<");
      } else {
        expect(line[b + 1]).toBe("<");
        expect(line[a - 1]).toBe("-");
        expect(line.slice(b + 1, a)).not.toContain(">");
      }
      // label sits on the arrow's shaft
      const at = line.indexOf(` ${r.msg} `);
      expect(at).toBeGreaterThan(Math.min(a, b));
      expect(at + r.msg.length + 2).toBeLessThan(Math.max(a, b));
    });
  });

  it("prints the time column in seconds and a protocol letter when colour is off", () => {
    const lines = renderLadderText(records, { color: false }).split("\n");
    expect(lines[1]).toMatch(/^\s+0\.000 S /);
    expect(lines[2]).toMatch(/^\s+0\.002 C /);
    expect(lines[3]).toMatch(/^\s+0\.012 O /);
    expect(lines[5]).toMatch(/^\s+2\.500 S /);
    expect(lines[6]).toMatch(/^\s+3\.000 R /);
    expect(lines.join("\n")).not.toMatch(ANSI);
    expect(lines).toContain("protocols: S SIP  C COPS  O OSP  R RADIUS");
  });

  it("colours arrows by protocol and drops the letter when colour is on", () => {
    const text = renderLadderText(records, { color: true });
    const lines = text.split("\n");
    expect(lines[1]).toContain("\u001b[32m"); // SIP green
    expect(lines[2]).toContain("\u001b[36m"); // COPS cyan
    expect(lines[3]).toContain("\u001b[35m"); // OSP magenta
    expect(lines[6]).toContain("\u001b[33m"); // RADIUS yellow
    const plain = text.replace(ANSI, "").split("\n");
    const lettered = renderLadderText(records, { color: false }).split("\n");
    // same geometry, shifted by the two-character letter gutter
    expect(plain[1]!.slice(11)).toBe(lettered[1]!.slice(13));
  });

  it("widens columns so the longest label fits on its arrow", () => {
    const text = renderLadderText([rec(0, "OSP", "POL2", "CH", "AuthorisationResponse")], { color: false, minColumnWidth: 4 });
    expect(text).toContain(" AuthorisationResponse ");
  });

  it("lays out the whole FIG. 5/6 call with all nine roles", () => {
    const call = syntheticCall();
    const lines = renderLadderText(call, { color: false }).split("\n");
    const col = columns(lines[0]!, ["UAC", "SIP1", "POL1", "R1", "CH", "SIP2", "POL2", "R2", "UAS"]);
    expect(col.size).toBe(9);
    expect(lines.length).toBe(call.length + 3); // header, rows, legend, trailing newline
  });

  it("decides colour from NO_COLOR, the TTY and --no-color", () => {
    expect(colorWanted({ isTTY: true }, {}, false)).toBe(true);
    expect(colorWanted({ isTTY: false }, {}, false)).toBe(false);
    expect(colorWanted({ isTTY: true }, { NO_COLOR: "1" }, false)).toBe(false);
    expect(colorWanted({ isTTY: true }, {}, true)).toBe(false);
    expect(colorWanted({ isTTY: false }, { FORCE_COLOR: "1" }, false)).toBe(true);
  });
});
