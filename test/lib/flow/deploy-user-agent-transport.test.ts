// A user agent's own SIP transport in the deployment file (roles.UAC.sipTransport): what the topology and the
// drivers get, which listeners each role then needs, and how each mistake is named.
import { describe, expect, it } from "vitest";
import { DeployConfigError, parseDeployConfig } from "../../../lib/flow/deploy-config.js";
import { sipNodeTransportsOf } from "../../../lib/flow/topology.js";
import { ROLES_ON_TWO_HOSTS as ROLES } from "../../support/deploy-file.js";
import { thrownBy } from "../../support/thrown.js";

/** The two-host roles with `extra` added to some roles' entries and a TCP port on others'. */
function file(topology: string, extra: Record<string, string>, tcp: readonly string[]): string {
  const lines = ROLES.split("\n").map((l) => {
    const role = /^ {2}(\w+):/.exec(l)?.[1];
    if (role === undefined) return l;
    let out = tcp.includes(role) ? l.replace(/sip: \{ udp: (\d+) \}/, "sip: { udp: $1, tcp: $1 }") : l;
    if (extra[role] !== undefined) out = out.replace(/ }$/, `, ${extra[role]} }`);
    return out;
  });
  return `topology: { sipTransport: ${topology} }\n${lines.join("\n")}`;
}

function messages(text: string): string[] {
  return thrownBy(DeployConfigError, () => parseDeployConfig(text, "d.yaml")).problems.map((p) => `${p.field}: ${p.message}`);
}

describe("deployment file: a user agent's own SIP transport", () => {
  it("the caller over UDP beside proxies over TCP: the topology and the drivers' node transports say so", () => {
    const c = parseDeployConfig(file("tcp", { UAC: "sipTransport: udp" }, ["SIP1", "SIP2", "UAS"]));
    expect(c.topology.userAgentTransports).toEqual({ UAC: "udp" });
    expect(sipNodeTransportsOf(c.topology)).toEqual({ UAC: "udp" });
    // The same transport as the proxies' changes nothing; a stream under TLS is TLS.
    expect(sipNodeTransportsOf({ sipTransport: "tcp", userAgentTransports: { UAC: "tcp" } })).toBeUndefined();
    expect(sipNodeTransportsOf({ sipTransport: "tls", userAgentTransports: { UAS: "tcp" } })).toBeUndefined();
    expect(sipNodeTransportsOf({ sipTransport: "udp", userAgentTransports: { UAS: "tcp" } })).toEqual({ UAS: "tcp" });
  });

  it("the reverse: the caller over TCP beside proxies over UDP; UAC and SIP1 then need a TCP port, SIP2 and the UAS do not", () => {
    const c = parseDeployConfig(file("udp", { UAC: "sipTransport: tcp" }, ["UAC", "SIP1"]));
    expect(c.topology.userAgentTransports).toEqual({ UAC: "tcp" });
    expect(messages(file("udp", { UAC: "sipTransport: tcp" }, ["UAC"]))).toEqual(["roles.SIP1: SIP1 needs 'sip.tcp' (a SIP hop of SIP1 runs over TCP)"]);
    expect(messages(file("udp", { UAC: "sipTransport: tcp" }, ["SIP1"]))).toEqual(["roles.UAC: UAC needs 'sip.tcp' (a SIP hop of UAC runs over TCP)"]);
    // Over TCP everywhere but the caller: the UAC needs no TCP port, the others still do.
    expect(() => parseDeployConfig(file("tcp", { UAC: "sipTransport: udp" }, ["SIP1", "SIP2", "UAS"]))).not.toThrow();
    expect(messages(file("tcp", { UAC: "sipTransport: udp" }, ["SIP1", "SIP2"]))).toEqual(["roles.UAS: UAS needs 'sip.tcp' (topology.sipTransport is tcp)"]);
  });

  it("names what is wrong: a proxy with a transport of its own, a transport that is none", () => {
    expect(messages(file("udp", { SIP1: "sipTransport: tcp" }, []))).toEqual(["roles.SIP1.sipTransport: SIP1 is no user agent: the proxies' SIP runs over topology.sipTransport (only UAC and UAS have their own)"]);
    expect(messages(file("udp", { UAC: "sipTransport: sctp" }, []))[0]).toMatch(/^roles\.UAC\.sipTransport: /);
  });
});
