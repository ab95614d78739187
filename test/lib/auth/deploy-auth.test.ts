// The deploy file's `auth` section: the realm, a credentials file (found beside the file) or a RADIUS server.
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
