// The demo's legend and docs/glossary.md explain every role and every non-SIP label the reference flows use.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { legendLines, MESSAGE_LEGEND, ROLE_LEGEND } from "../../../lib/replay/legend.js";
import { REFERENCE_FLOWS } from "../../../lib/replay/reference-flows.js";
import { REFERENCE_ROLE_ORDER } from "../../../lib/replay/roles.js";
import { syntheticCall } from "./synthetic-call.js";

const glossary = readFileSync("docs/glossary.md", "utf8");

describe("legend", () => {
  it("has a line for every role and every COPS and OSP label of FIG. 5 and FIG. 6", () => {
    const steps = [...REFERENCE_FLOWS.setup, ...REFERENCE_FLOWS.teardown];
    for (const role of REFERENCE_ROLE_ORDER) expect(ROLE_LEGEND[role], role).toBeDefined();
    for (const s of steps) if (s.proto !== "SIP") expect(MESSAGE_LEGEND[s.msg], s.msg).toBeDefined();
  });

  it("shows the roles and labels a ladder uses, once each, and only those", () => {
    const lines = legendLines(syntheticCall({ noClearinghouse: true }));
    expect(lines[0]).toBe("legend:");
    expect(lines.filter((l) => /^ {2}REQ AAA /.test(l))).toHaveLength(1);
    expect(lines.some((l) => l.includes("AuthorisationRequest"))).toBe(false); // no OSP on the wire
    expect(lines.some((l) => /^ {2}CH /.test(l))).toBe(false);
    expect(lines.at(-1)).toBe('  rows without colour start with S = SIP, C = COPS; SIP shows methods and "code reason"');
  });

  it("docs/glossary.md names every role and label of the legend", () => {
    const rows = glossary.split("\n").filter((l) => l.startsWith("| `"));
    for (const name of [...Object.keys(ROLE_LEGEND), ...Object.keys(MESSAGE_LEGEND)])
      expect(rows.some((row) => (row.split(" | ")[0] ?? "").includes(`\`${name}\``)), `docs/glossary.md has no table row for ${name}`).toBe(true);
  });
});
