// The deployment file's `limits` section: the connection limits every role's listeners apply.
import { describe, expect, it } from "vitest";
import { DeployConfigError, parseDeployConfig } from "../../../lib/flow/deploy-config.js";
import { ROLES_ON_TWO_HOSTS as ROLES } from "../../support/deploy-file.js";
import { thrownBy } from "../../support/thrown.js";

describe("deployment file limits", () => {
  it("are read as given, absent when not given", () => {
    const c = parseDeployConfig(`${ROLES}limits: { maxConnectionsPerSource: 16, idleTimeoutMs: 60000, headerTimeoutMs: 5000 }\n`);
    expect(c.limits).toEqual({ maxConnectionsPerSource: 16, idleTimeoutMs: 60000, headerTimeoutMs: 5000 });
    expect(parseDeployConfig(ROLES).limits).toBeUndefined();
  });

  it("a negative, fractional or unknown setting is refused, named", () => {
    expect(thrownBy(DeployConfigError, () => parseDeployConfig(`${ROLES}limits: { idleTimeoutMs: -1 }\n`)).message).toMatch(/limits.*idleTimeoutMs/);
    expect(thrownBy(DeployConfigError, () => parseDeployConfig(`${ROLES}limits: { bodyTimeoutMs: 1.5 }\n`)).message).toMatch(/limits.*bodyTimeoutMs/);
    expect(thrownBy(DeployConfigError, () => parseDeployConfig(`${ROLES}limits: { readTimeout: 5 }\n`)).message).toMatch(/limits.*readTimeout/);
  });
});
