import { generateKeyPairSync } from "node:crypto";
import forge from "node-forge";
import { afterEach, describe, expect, it } from "vitest";
import {
  ClientType,
  CopsPdpConnection,
  CopsPepConnection,
  buildSipAaaDecision,
  connectCopsPep,
  encodeSipAaaClientSi,
  listenCopsPdp,
  parseSipAaaDecision,
  sipAaaContext,
  type CopsPepEvent,
} from "../../../protocols/cops/index.js";
import { aaaInfo } from "./samples.js";

/** A throw-away self-signed certificate for 127.0.0.1. */
function selfSigned(): { key: string; cert: string } {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const keyPem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: "spki", format: "pem" }).toString());
  cert.serialNumber = "01";
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + 3_600_000);
  const name = [{ name: "commonName", value: "pdp.example.com" }];
  cert.setSubject(name);
  cert.setIssuer(name);
  cert.setExtensions([{ name: "subjectAltName", altNames: [{ type: 7, ip: "127.0.0.1" }] }]);
  cert.sign(forge.pki.privateKeyFromPem(keyPem), forge.md.sha256.create());
  return { key: keyPem, cert: forge.pki.certificateToPem(cert) };
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe("COPS over TLS (optional transport)", () => {
  it("REQ AAA / DEC AAA over a TLS connection on loopback, certificate verified", async () => {
    const { key, cert } = selfSigned();
    const server = await listenCopsPdp(
      { port: 0, tls: { key, cert }, createMachine: () => new CopsPdpConnection({ clientTypes: [ClientType.SipAaa], kaTimerSeconds: 30 }) },
      (session) =>
        session.events.on("event", (e) => {
          if (e.type === "request") session.send({ type: "decide", handle: e.handle, decisions: buildSipAaaDecision("AAA", e.handle, true, { dscp: 34 }).decisions });
        }),
    );
    cleanups.push(() => server.close());
    const machine = new CopsPepConnection({ clientType: ClientType.SipAaa, pepId: "sip1", servers: [{ family: 4, address: "127.0.0.1", port: server.port }] });
    const pep = connectCopsPep({ machine, tls: { ca: cert } });
    cleanups.push(() => pep.close());
    const events: CopsPepEvent[] = [];
    const decided = new Promise<CopsPepEvent>((resolve) =>
      pep.events.on("event", (e) => {
        events.push(e);
        if (e.type === "accepted") {
          const handle = machine.allocateHandle();
          pep.send({ type: "request", handle, context: sipAaaContext("AAA"), clientSi: [{ cType: 1, data: encodeSipAaaClientSi(aaaInfo) }] });
        }
        if (e.type === "decision") resolve(e);
      }),
    );
    const d = await decided;
    expect(d.type === "decision" && parseSipAaaDecision(d.message)).toMatchObject({ purpose: "AAA", allowed: true, info: { dscp: 34 } });
    expect(events.map((e) => e.type)).toEqual(["accepted", "decision"]);
  });
});
