// OSP over HTTPS (TS 101 321 §5) between OspClient and `callgate clearinghouse` in its own process: the
// clearinghouse's CA pinned at the client, a client certificate required with --tls-require-client-cert;
// impossible TLS settings of the command refused at start naming the option. Certificates from openssl.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OspClient, authorisationRequest } from "../../protocols/osp/index.js";
import { killStartedProcesses, spawnCli, type RunningProcess } from "../support/cli-process.js";
import { makeTestPki, type TestPki } from "../support/tls-test-pki.js";
import { freePort } from "./sip-sipp-helpers.js";

let pki: TestPki;
let stranger: TestPki;
let routes: string;

beforeAll(() => {
  pki = makeTestPki(["CH", "POL1"]);
  stranger = makeTestPki(["CH", "POL1"], "another CA");
  routes = join(pki.dir, "routes.yaml");
  writeFileSync(routes, 'routes:\n  - prefix: ""\n    destinations:\n      - address: "[192.0.2.20]:5060"\n');
});

afterAll(killStartedProcesses);

const clearinghouse = (args: string[]): RunningProcess => spawnCli("clearinghouse", ["--routes", routes, "--memory", ...args]);
const listening = (r: RunningProcess): Promise<void> => r.waitFor("clearinghouse listening on");

/** One AuthorisationRequest: the answer's status code, or the error's message. */
async function authorise(url: string, options: Partial<ConstructorParameters<typeof OspClient>[0]>, n: number): Promise<number | string> {
  const client = new OspClient({ url, attempts: 1, timeoutMs: 5000, ...options });
  try {
    const rsp = await client.authorise(authorisationRequest({ messageId: `https-${n}`, nowMs: Date.now(), callId: Buffer.from(`call-${n}`), callingNumber: "15551234567", calledNumber: "15557654321" }));
    return rsp.status.code;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  } finally {
    await client.close();
  }
}

describe("OSP over HTTPS with `callgate clearinghouse`", () => {
  it("--tls-require-client-cert: a policy server with a certificate from the CA is authorised; without one, or from another CA, refused", async () => {
    const url = `https://127.0.0.1:${await freePort()}/osp`;
    const ch = clearinghouse(["--listen", url, "--tls-cert", pki.files.CH!.certificate, "--tls-key", pki.files.CH!.key, "--tls-ca", pki.caFile, "--tls-require-client-cert"]);
    try {
      await listening(ch);
      const pol1 = { clientCertificatePem: pki.credentials.POL1!.certificatePem, clientKeyPem: pki.credentials.POL1!.keyPem };
      expect(await authorise(url, { caPem: [pki.caPem], ...pol1 }, 1)).toBe(200);
      expect(await authorise(url, { caPem: [pki.caPem] }, 2)).not.toBe(200);
      expect(await authorise(url, { caPem: [pki.caPem], clientCertificatePem: stranger.credentials.POL1!.certificatePem, clientKeyPem: stranger.credentials.POL1!.keyPem }, 3)).not.toBe(200);
      // The client pins the clearinghouse's CA: another CA's trust refuses this server.
      expect(await authorise(url, { caPem: [stranger.caPem], ...pol1 }, 4)).toMatch(/self.signed|unable to verify|certificate/i);
    } finally {
      ch.child.kill("SIGTERM");
      await ch.exited;
    }
  });

  it("HTTPS without client certificates: any client trusting the CA is served", async () => {
    const url = `https://127.0.0.1:${await freePort()}/osp`;
    const ch = clearinghouse(["--listen", url, "--tls-cert", pki.files.CH!.certificate, "--tls-key", pki.files.CH!.key]);
    try {
      await listening(ch);
      expect(await authorise(url, { caPem: [pki.caPem] }, 5)).toBe(200);
    } finally {
      ch.child.kill("SIGTERM");
      await ch.exited;
    }
  });

  it("impossible TLS settings are refused at start (exit 2), naming the option", async () => {
    const https = `https://127.0.0.1:${await freePort()}/osp`;
    const http = `http://127.0.0.1:${await freePort()}/osp`;
    const cert = ["--tls-cert", pki.files.CH!.certificate];
    const key = ["--tls-key", pki.files.CH!.key];
    const cases: Array<[string[], RegExp]> = [
      [["--listen", https, ...cert], /--tls-cert given without --tls-key/],
      [["--listen", https], /--listen https:.* needs --tls-cert and --tls-key/],
      [["--listen", http, ...cert, ...key], /--tls-cert: --listen http:.* is not an https: URL/],
      [["--listen", https, ...cert, "--tls-key", pki.files.POL1!.key], /--tls-key .*: is not the key of --tls-cert/],
      [["--listen", https, ...cert, ...key, "--tls-require-client-cert"], /--tls-require-client-cert needs --tls-ca/],
      [["--listen", https, ...cert, ...key, "--tls-ca", join(pki.dir, "nowhere.pem")], /--tls-ca .*nowhere\.pem: cannot read \(ENOENT\)/],
    ];
    const runs = cases.map(([args]) => clearinghouse(args));
    const codes = await Promise.all(runs.map((r) => r.exited));
    for (const [i, [, message]] of cases.entries()) {
      expect(codes[i], runs[i]!.output()).toBe(2);
      expect(runs[i]!.output()).toMatch(message);
    }
  });
});
