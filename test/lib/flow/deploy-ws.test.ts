// SIP1's WebSocket listener in the deployment file (roles.SIP1.sip.ws, RFC 7118): it reaches the socket driver's
// directory, and each mistake is named.
import { describe, expect, it } from "vitest";
import { DeployConfigError, directoryOf, parseDeployConfig } from "../../../lib/flow/deploy-config.js";
import { ROLES_ON_TWO_HOSTS as ROLES } from "../../support/deploy-file.js";
import { thrownBy } from "../../support/thrown.js";

function withWs(role: string, port: number | string): string {
  return ROLES.split("\n").map((l) => (l.startsWith(`  ${role}:`) ? l.replace(/sip: \{ udp: (\d+) \}/, `sip: { udp: $1, ws: ${port} }`) : l)).join("\n");
}

function messages(text: string): string[] {
  return thrownBy(DeployConfigError, () => parseDeployConfig(text, "d.yaml")).problems.map((p) => `${p.field}: ${p.message}`);
}

describe("deployment file: SIP1's WebSocket listener", () => {
  it("goes into the directory as SIP1's sipWs port", () => {
    const c = parseDeployConfig(withWs("SIP1", 5066));
    expect(c.roles.SIP1?.sip).toEqual({ udp: 5060, ws: 5066 });
    expect(directoryOf(c).SIP1).toEqual({ host: "127.0.0.1", sipUdp: 5060, sipWs: 5066 });
    expect(directoryOf(parseDeployConfig(ROLES)).SIP1?.sipWs).toBeUndefined();
  });

  it("names what is wrong: another role, a port taken by another listener, a port out of range", () => {
    expect(messages(withWs("SIP2", 5066))).toEqual(["roles.SIP2.sip.ws: SIP2 takes no callers from outside: only SIP1 listens for SIP over WebSocket"]);
    expect(messages(withWs("SIP1", 5045))).toEqual(["roles.CH.osp: tcp 127.0.0.1:5045 is already SIP1.sip.ws's"]);
    expect(messages(withWs("SIP1", 70000))[0]).toMatch(/^roles\.SIP1\.sip\.ws: /);
  });
});
