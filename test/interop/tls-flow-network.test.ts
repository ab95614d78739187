// FIG. 5 / FIG. 6 on the loopback socket driver with TLS on every link: SIP between the nodes over TLS
// (RFC 3261 §26.3.1), COPS over TLS (RFC 4261), OSP over HTTPS, mutual TLS with a pinned CA. Certificates
// are made by the openssl CLI at test time.
import { beforeAll, describe, expect, it } from "vitest";
import type { SocketTlsOptions } from "../../lib/drivers/socket-tls.js";
import type { CallSpec } from "../../lib/flow/run-calls.js";
import { flowNetwork, runOnNetwork } from "../../lib/flow/run-network.js";
import { prepareRun } from "../../lib/flow/run-setup.js";
import type { MessageRecord } from "../../lib/drivers/message-record.js";
import { makeTestPki, type TestPki } from "../support/tls-test-pki.js";
import { checkLadder, splitCall } from "../lib/flow/ladder-helpers.js";

const ROLES = ["UAC", "SIP1", "POL1", "R1", "CH", "SIP2", "POL2", "R2", "UAS"];
const shortCall: CallSpec = { caller: "sip:alice@example.com", callee: "sip:bob@example.com", startMs: 50, answerDelayMs: 200, durationMs: 300, hangUp: "caller" };

let pki: TestPki;
let rogue: TestPki;

beforeAll(() => {
  pki = makeTestPki(ROLES);
  rogue = makeTestPki(["SIP1"], "rogue CA");
});

function tlsEverywhere(overrides: Partial<SocketTlsOptions> = {}): SocketTlsOptions {
  return { caPem: pki.caPem, credentials: { ...pki.credentials }, requireClientCert: true, sip: true, cops: true, osp: true, ...overrides };
}

/** A call on the TLS network for `forMs` (a refused PEP holds its INVITE, so the call would not end by itself): records and driver errors. */
async function runFor(tls: SocketTlsOptions, forMs: number): Promise<{ records: MessageRecord[]; errors: string[]; established: boolean }> {
  const { topo, bus, tracker, records, onRecord } = prepareRun({ driver: "net", topology: { sipTransport: "tcp" }, calls: [shortCall] });
  const errors: string[] = [];
  const net = flowNetwork({ sipTransport: "tcp", clearinghouse: "osp-http" }, topo.nodes, {
    tls, onRecord, onEmit: (_n, e) => bus.publish(e), onError: (where, err) => errors.push(`${where}: ${String(err)}`),
  });
  await net.start();
  await new Promise((r) => setTimeout(r, forMs));
  await net.stop();
  return { records, errors, established: tracker.outcomes()[0]?.established ?? false };
}

/** The call is not set up and no COPS went from `from` to `to`; the other side is unaffected: SIP2 got its CAT from POL2. */
function expectRefused(run: { records: MessageRecord[]; established: boolean }, from: string, to: string): void {
  expect(run.established).toBe(false);
  expect(run.records.some((r) => r.from === from && r.to === to && r.proto === "COPS")).toBe(false);
  expect(run.records.some((r) => r.from === "POL2" && r.to === "SIP2" && r.msg === "CAT")).toBe(true);
}

describe("socket driver over TLS", () => {
  it("SIP, COPS and OSP over mutual TLS: the call completes, ladders match FIG. 5/6, nothing left behind", async () => {
    const result = await runOnNetwork({ driver: "net", topology: { sipTransport: "tcp" }, calls: [shortCall], tls: tlsEverywhere() });
    const call = result.calls[0];
    expect(call?.established).toBe(true);
    const { setup, teardown } = splitCall(result.records, call?.callId ?? "");
    expect(checkLadder(setup, "setup").output).toContain("all 28 steps");
    expect(checkLadder(teardown, "teardown").status).toBe(0);
    expect(result.endpoints?.CH?.osp).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/osp$/);
    expect(result.endpoints?.SIP1?.sip).toMatch(/;transport=tls$/);
    // Every hop's Via names the transport it was sent over (RFC 3261 §18.2.1): TLS, never TCP.
    const vias = result.records.filter((r) => r.proto === "SIP").flatMap((r) => r.bytes.toString("latin1").match(/^Via: SIP\/2\.0\/[A-Z]+/gm) ?? []);
    expect(vias.length).toBeGreaterThan(20);
    expect(new Set(vias)).toEqual(new Set(["Via: SIP/2.0/TLS"]));
    expect(result.cdrs).toHaveLength(2);
    expect(result.leftovers).toEqual({ classifiers: 0, copsRequestStates: 0, pendingTransactions: 0 });
  });

  it("a proxy whose certificate comes from another CA is refused by its policy server: POL1 never answers it", async () => {
    const credentials = { ...pki.credentials, SIP1: rogue.credentials.SIP1! };
    const run = await runFor(tlsEverywhere({ credentials, sip: false }), 1500);
    // TLS 1.3: the client's handshake ends before the server checks its certificate, so SIP1's OPN is written; POL1 never reads it.
    expectRefused(run, "POL1", "SIP1");
  });

  it("a certificate from the right CA that names another role is refused (SIP1 presenting SIP2's)", async () => {
    const credentials = { ...pki.credentials, SIP1: pki.credentials.SIP2! };
    const run = await runFor(tlsEverywhere({ credentials, sip: false }), 1500);
    expectRefused(run, "POL1", "SIP1");
  });

  it("a policy server presenting a certificate that does not name it is refused by the connecting proxy", async () => {
    const credentials = { ...pki.credentials, POL1: pki.credentials.POL2! };
    const run = await runFor(tlsEverywhere({ credentials, requireClientCert: false, sip: false }), 1500);
    expectRefused(run, "SIP1", "POL1");
  });

  it("SIP over TLS needs the roles' stream transport", async () => {
    await expect(runOnNetwork({ driver: "net", topology: { sipTransport: "udp" }, calls: [shortCall], tls: tlsEverywhere() })).rejects.toThrow(/SIP over TLS needs topology.sipTransport tls \(or tcp\)/);
  });
});
