// The deployment file's `calls.reinvites`: the caller's re-INVITEs go into the served UAC's calls; bad entries
// are refused with the field named.
import { describe, expect, it } from "vitest";
import { DeployConfigError, callSpecsOf, parseDeployConfig } from "../../../lib/flow/deploy-config.js";
import { ROLES_ON_TWO_HOSTS as ROLES } from "../../support/deploy-file.js";
import { thrownBy } from "../../support/thrown.js";

describe("deployment file calls.reinvites", () => {
  it("are read as given and carried by every call the UAC places; absent when not given", () => {
    const c = parseDeployConfig(`${ROLES}calls: { count: 2, reinvites: [{by: caller, afterMs: 800, hold: true}, {by: callee, afterMs: 500, hold: false}] }\n`);
    expect(c.calls.reinvites).toEqual([{ by: "caller", afterMs: 800, hold: true }, { by: "callee", afterMs: 500, hold: false }]);
    const specs = callSpecsOf(c.calls);
    expect(specs.map((s) => s.reinvites)).toEqual([c.calls.reinvites, c.calls.reinvites]);
    expect(callSpecsOf(parseDeployConfig(`${ROLES}calls: { count: 1 }\n`).calls)[0]!.reinvites).toBeUndefined();
  });

  it("an unknown side, a zero delay, a missing hold or an empty list is refused", () => {
    for (const bad of ["[{by: proxy, afterMs: 800, hold: true}]", "[{by: caller, afterMs: 0, hold: true}]", "[{by: caller, afterMs: 800}]", "[]"])
      expect(thrownBy(DeployConfigError, () => parseDeployConfig(`${ROLES}calls: { reinvites: ${bad} }\n`)).message, bad).toMatch(/calls.*reinvites/);
  });
});
