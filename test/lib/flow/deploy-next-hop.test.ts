// A proxy's next hop outside the roles in the deployment file (roles.SIP1.nextHop): what the topology gets, and
// how each mistake is named.
import { describe, expect, it } from "vitest";
import { DeployConfigError, parseDeployConfig } from "../../../lib/flow/deploy-config.js";
import { buildTopology, resolveTopology } from "../../../lib/flow/topology.js";
import { ROLES_ON_TWO_HOSTS as ROLES } from "../../support/deploy-file.js";
import { thrownBy } from "../../support/thrown.js";

function withNextHop(role: string, uri: string, topology = ""): string {
  const lines = ROLES.split("\n").map((l) => (l.startsWith(`  ${role}:`) ? l.replace(/ }$/, `, nextHop: "${uri}" }`) : l));
  return `${topology}${lines.join("\n")}`;
}

function messages(text: string): string[] {
  return thrownBy(DeployConfigError, () => parseDeployConfig(text, "d.yaml")).problems.map((p) => `${p.field}: ${p.message}`);
}

describe("deployment file: a proxy's next hop", () => {
  it("goes into the topology; SIP1 then sends new INVITEs there", () => {
    const c = parseDeployConfig(withNextHop("SIP1", "sip:127.0.0.1:5090"));
    expect(c.topology.nextHops).toEqual({ SIP1: "sip:127.0.0.1:5090" });
    const topo = buildTopology(resolveTopology(c.topology), []);
    expect(topo.sip1).toBeDefined();
    const tcp = parseDeployConfig(withNextHop("SIP2", "sip:127.0.0.1:5090;transport=tcp", "topology: { sipTransport: tcp }\n").replace(/sip: \{ udp: (\d+) \}/g, "sip: { udp: $1, tcp: $1 }"));
    expect(tcp.topology.nextHops).toEqual({ SIP2: "sip:127.0.0.1:5090;transport=tcp" });
  });

  it("names what is wrong: not a proxy, no port, not loopback, another transport, not a URI", () => {
    expect(messages(withNextHop("UAC", "sip:127.0.0.1:5090"))).toEqual(["roles.UAC.nextHop: UAC is no proxy: only SIP1 and SIP2 have a next hop"]);
    expect(messages(withNextHop("SIP1", "sip:127.0.0.1"))).toEqual(["roles.SIP1.nextHop: 'sip:127.0.0.1' names no port"]);
    expect(messages(withNextHop("SIP1", "sip:proxy.example.com:5060"))).toEqual(["roles.SIP1.nextHop: 'proxy.example.com' is not a loopback IPv4 address (127.0.0.0/8)"]);
    expect(messages(withNextHop("SIP1", "sip:127.0.0.1:5090;transport=tcp"))).toEqual(["roles.SIP1.nextHop: 'sip:127.0.0.1:5090;transport=tcp' is over TCP but the roles speak SIP over UDP"]);
    expect(messages(withNextHop("SIP1", "sip:127.0.0.1:99999"))[0]).toMatch(/^roles\.SIP1\.nextHop: 'sip:127\.0\.0\.1:99999' is not a SIP URI/);
    expect(messages(withNextHop("SIP1", "tel:+15551234567"))[0]).toMatch(/^roles\.SIP1\.nextHop: /);
  });
});
