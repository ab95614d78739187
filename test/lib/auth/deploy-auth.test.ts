// The deploy file's `auth` section: the realm, a credentials file (found beside the file) or a RADIUS server.
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { DeployConfigError, parseDeployConfig } from "../../../lib/flow/deploy-config.js";
import { ROLES_ON_TWO_HOSTS } from "../../support/deploy-file.js";

describe("deploy file: auth", () => {
  it("reads the realm, the credentials path beside the file, the algorithms", () => {
    const c = parseDeployConfig(`auth: { realm: sip1.example.com, credentials: creds.txt, algorithms: [MD5, SHA-256] }\n${ROLES_ON_TWO_HOSTS}`, "/srv/deploy/deploy.yaml");
    expect(c.auth).toEqual({ realm: "sip1.example.com", credentials: "/srv/deploy/creds.txt", algorithms: ["MD5", "SHA-256"] });
    const r = parseDeployConfig(`auth: { realm: r, radius: { address: 127.0.0.1, port: 1812, secret: s } }\n${ROLES_ON_TWO_HOSTS}`);
    expect(r.auth).toEqual({ realm: "r", radius: { address: "127.0.0.1", port: 1812, secret: "s" } });
  });

  it("refuses both or neither of credentials and radius, and unknown algorithms, naming the field", () => {
    for (const [auth, why] of [
      ["{ realm: r }", /auth: needs either credentials/],
      ["{ realm: r, credentials: c, radius: { address: a, port: 1, secret: s } }", /auth: needs either credentials/],
      ["{ realm: r, credentials: c, algorithms: [SHA-1] }", /auth\.algorithms/],
    ] as const) {
      expect(() => parseDeployConfig(`auth: ${auth}\n${ROLES_ON_TWO_HOSTS}`)).toThrow(DeployConfigError);
      expect(() => parseDeployConfig(`auth: ${auth}\n${ROLES_ON_TWO_HOSTS}`)).toThrow(why);
    }
  });
});

describe("deploy file: realms", () => {
  const realms = "realms: { master: [master.example], clients: [{ name: isp-b, realms: [isp-b.example], virtualIdentity: { user: isp-b-virtual }, capacity: { ports: 2, credit: 10, pricePerMinute: 1 } }] }";

  it("reads the master's realms and the client providers with their rented capacity", () => {
    const c = parseDeployConfig(`${realms}\n${ROLES_ON_TWO_HOSTS}`);
    // POL1's capacity journal: beside the deploy file unless named (relative to it).
    expect(c.realms).toEqual({ master: ["master.example"], clients: [{ name: "isp-b", realms: ["isp-b.example"], virtualIdentity: { user: "isp-b-virtual" }, capacity: { ports: 2, credit: 10, pricePerMinute: 1 } }], journal: resolve("callgate-realms.jsonl") });
    const named = parseDeployConfig(`${realms.replace("realms: { master:", "realms: { journal: state/capacity.jsonl, master:")}\n${ROLES_ON_TWO_HOSTS}`, "/srv/callgate/deploy.yaml");
    expect(named.realms?.journal).toBe("/srv/callgate/state/capacity.jsonl");
  });

  it("refuses an unknown capacity field, a negative port count, a realm of two providers, naming the field and line", () => {
    for (const [section, why] of [
      [realms.replace("ports: 2", "portz: 2"), /deploy\.yaml:1:\d+: realms\.clients\[0\]\.capacity\.portz: unknown field 'portz'/],
      [realms.replace("ports: 2", "ports: -1"), /realms\.clients\[0\]\.capacity\.ports: must be >= 0/],
      [realms.replace("realms: [isp-b.example]", "realms: [MASTER.example]"), /realms\.clients\.0\.realms\.0: realm 'MASTER\.example' already belongs to the master/],
      [realms.replace("virtualIdentity: { user: isp-b-virtual }, ", ""), /realms\.clients\[0\]\.virtualIdentity: missing required field 'virtualIdentity'/],
    ] as const) {
      expect(() => parseDeployConfig(`${section}\n${ROLES_ON_TWO_HOSTS}`, "deploy.yaml")).toThrow(DeployConfigError);
      expect(() => parseDeployConfig(`${section}\n${ROLES_ON_TWO_HOSTS}`, "deploy.yaml")).toThrow(why);
    }
  });
});
