// Start functions with TLS settings: a policy server taking COPS over TLS (RFC 4261) with mutual TLS, an edge
// router that presents its certificate; a PEP without TLS, and one over TLS without a client certificate, are
// refused and never get a CAT.
import { connect as tlsConnect } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEdgeRouter, startPolicyServer, type RoleHandle } from "../../../lib/start/index.js";
import type { EdgeRouter } from "../../../lib/roles/edge-router.js";
import type { PolicyServer } from "../../../lib/roles/policy-server.js";
import { ClientType, encodeCopsMessage } from "../../../protocols/cops/index.js";
import { RawPep } from "../../support/raw-cops-pep.js";
import { makeTestPki, type TestPki } from "../../support/tls-test-pki.js";

let pki: TestPki;
let pdp: RoleHandle<PolicyServer>;
let router: RoleHandle<EdgeRouter>;
const drops: string[] = [];

async function until(what: string, done: () => boolean, ms = 10_000): Promise<void> {
  for (const end = Date.now() + ms; !done(); ) {
    if (Date.now() > end) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

beforeAll(async () => {
  pki = makeTestPki(["PDP", "r1"]);
  const tlsOf = (node: string) => ({ caPem: pki.caPem, credentials: { [node]: pki.credentials[node] ?? { certificatePem: "", keyPem: "" } }, cops: true, requireClientCert: true });
  pdp = await startPolicyServer({ router: "r1", tls: tlsOf("PDP"), onDrop: (proto, cause) => drops.push(`${proto} ${cause}`) });
  router = await startEdgeRouter({ name: "r1", pdp: pdp.addresses.cops ?? "", tls: tlsOf("r1") });
});

afterAll(async () => {
  await router?.close();
  await pdp?.close();
});

describe("a policy server and an edge router started with TLS", () => {
  it("the router opens its configuration state over mutual TLS", async () => {
    await until("the router's state open", () => router.node.copsRequestStates === 1);
    expect(pdp.gauges.connections()).toEqual({ "PDP COPS": 1 });
  });

  it("a PEP speaking plain COPS to the TLS listener is closed without a CAT", async () => {
    const pep = new RawPep(Number(pdp.addresses.cops?.split(":")[1]));
    pep.send({ op: "OPN", clientType: ClientType.SipAaa, pepId: "softswitch.example.net" });
    const first = await Promise.race([pep.next(), pep.closed.then(() => undefined)]);
    expect(first).toBeUndefined();
  });

  it("a PEP over TLS without a client certificate fails the handshake", async () => {
    const socket = tlsConnect({ host: "127.0.0.1", port: Number(pdp.addresses.cops?.split(":")[1]), ca: pki.caPem, servername: "pdp" });
    const outcome = await new Promise<string>((resolve) => {
      socket.once("secureConnect", () => {
        socket.write(encodeCopsMessage({ op: "OPN", clientType: ClientType.SipAaa, pepId: "softswitch.example.net" }));
      });
      socket.once("data", () => resolve("answered"));
      socket.once("error", (err) => resolve(`error ${(err as NodeJS.ErrnoException).code ?? err.message}`));
      socket.once("close", () => resolve("closed"));
    });
    socket.destroy();
    expect(outcome).not.toBe("answered");
    expect(router.node.copsRequestStates).toBe(1);
  });
});
