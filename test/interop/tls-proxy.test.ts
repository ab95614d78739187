// `callgate proxy` over TLS (RFC 3261 §26.3.1) and WSS (RFC 7118 §3: WebSocket over TLS), in its own
// process: a node TLS client and a wss client get SIP answers relayed from a UDP next hop; a plain client on
// the TLS ports gets nothing; with --tls-require-client-cert a client without a certificate is refused; and
// impossible TLS settings are refused at start naming the option. Certificates from the openssl CLI.
import { spawn } from "node:child_process";
import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { writeFileSync } from "node:fs";
import { connect as netConnect } from "node:net";
import { join } from "node:path";
import { connect as tlsConnect, createServer as createTlsServer, type ConnectionOptions, type TLSSocket } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { killStartedProcesses, spawnCli, trackProcess, type RunningProcess } from "../support/cli-process.js";
import { makeTestPki, type TestPki } from "../support/tls-test-pki.js";
import { freePort } from "./sip-sipp-helpers.js";

let pki: TestPki;
let stranger: TestPki;
let nextHop: UdpSocket;
let nextHopPort = 0;

/** The next hop: answers every request with 200 OK, its Via headers copied (RFC 3261 §8.2.6). */
beforeAll(async () => {
  pki = makeTestPki(["proxy", "client"]);
  stranger = makeTestPki(["client"], "another CA");
  nextHop = createSocket("udp4");
  nextHop.on("message", (msg, rinfo) => {
    const text = msg.toString("latin1");
    if (!/^[A-Z]+ /.test(text)) return;
    const head = text.split("\r\n\r\n")[0]!.split("\r\n");
    const keep = head.filter((l) => /^(Via|From|Call-ID|CSeq):/i.test(l));
    const to = head.find((l) => /^To:/i.test(l)) ?? "To: <sip:bob@127.0.0.1>";
    const answer = ["SIP/2.0 200 OK", ...keep, `${to};tag=nexthop`, "Content-Length: 0", "", ""].join("\r\n");
    nextHop.send(Buffer.from(answer, "latin1"), rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve) => nextHop.bind(0, "127.0.0.1", resolve));
  nextHopPort = nextHop.address().port;
});

afterAll(() => {
  nextHop?.close();
  killStartedProcesses();
});

const proxy = (args: string[]): RunningProcess => spawnCli("proxy", args);

/** Runs `callgate proxy ARGS` with the test CA's proxy certificate and key until `body` is done. */
async function withProxy(args: string[], body: () => Promise<void>): Promise<void> {
  const p = proxy([...args, "--tls-cert", pki.files.proxy!.certificate, "--tls-key", pki.files.proxy!.key]);
  try {
    await p.waitFor("callgate proxy listening on");
    await body();
  } finally {
    await p.stop();
  }
}

function options(transport: "TLS" | "WSS", sentBy: string, n: number): string {
  return [
    `OPTIONS sip:bob@127.0.0.1 SIP/2.0`,
    `Via: SIP/2.0/${transport} ${sentBy};branch=z9hG4bK-tls-${n};rport`,
    "Max-Forwards: 70",
    `From: <sip:alice@127.0.0.1>;tag=a${n}`,
    "To: <sip:bob@127.0.0.1>",
    `Call-ID: tls-${n}@127.0.0.1`,
    `CSeq: ${n} OPTIONS`,
    "Content-Length: 0",
    "",
    "",
  ].join("\r\n");
}

/** Sends one request over TLS and resolves with the first response's status line (or the reason there was none). */
function askOverTls(port: number, tls: ConnectionOptions, n: number): Promise<string> {
  return new Promise((resolve) => {
    const sock = tlsConnect({ host: "127.0.0.1", port, ...tls });
    let got = "";
    const timer = setTimeout(() => finish("no answer"), 10_000);
    const finish = (what: string): void => {
      clearTimeout(timer);
      sock.destroy();
      resolve(what);
    };
    sock.on("secureConnect", () => sock.write(options("TLS", `127.0.0.1:${sock.localPort ?? 0}`, n)));
    sock.on("data", (d: Buffer) => {
      got += d.toString("latin1");
      if (got.includes("\r\n\r\n")) finish(got.split("\r\n")[0] ?? "");
    });
    sock.on("error", (err) => finish(`error: ${err.message}`));
    sock.on("close", () => finish(got ? got.split("\r\n")[0]! : "closed"));
  });
}

describe("callgate proxy over TLS and WSS", () => {
  it("tls: and wss: listeners answer TLS clients (the next hop's 200 OK relayed back); plain TCP and plain ws get no SIP", async () => {
    const [tlsPort, wssPort, udpPort] = [await freePort(), await freePort(), await freePort()];
    await withProxy([
      "--listen", `tls:127.0.0.1:${tlsPort}`, "--listen", `wss:127.0.0.1:${wssPort}`, "--listen", `udp:127.0.0.1:${udpPort}`,
      "--next-hop", `udp:127.0.0.1:${nextHopPort}`, "--tls-ca", pki.caFile,
    ], async () => {
      // A TLS client trusting only the CA: the proxy's certificate (IP 127.0.0.1) verifies, OPTIONS gets 200 from the next hop.
      expect(await askOverTls(tlsPort, { ca: pki.caPem }, 1)).toBe("SIP/2.0 200 OK");
      // A client that does not trust the CA refuses the proxy.
      expect(await askOverTls(tlsPort, { ca: stranger.caPem }, 2)).toMatch(/^error: .*(self.signed|unable to verify|certificate)/i);
      // Cleartext SIP on the TLS port is no TLS handshake: nothing comes back as SIP.
      const plain = await new Promise<string>((resolve) => {
        const s = netConnect(tlsPort, "127.0.0.1", () => s.write(options("TLS", "127.0.0.1:1", 3)));
        let got = "";
        s.on("data", (d: Buffer) => (got += d.toString("latin1")));
        s.on("error", () => undefined);
        s.on("close", () => resolve(got));
        setTimeout(() => s.destroy(), 3000);
      });
      expect(plain.startsWith("SIP/2.0")).toBe(false);

      // wss: a WebSocket client over TLS (subprotocol sip) gets the 200 OK as a text message.
      const viaWss = await new Promise<string>((resolve) => {
        const ws = new WebSocket(`wss://127.0.0.1:${wssPort}`, "sip", { ca: pki.caPem });
        const timer = setTimeout(() => resolve("no answer"), 10_000);
        ws.on("open", () => ws.send(options("WSS", "client.invalid", 4)));
        ws.on("message", (data: Buffer) => {
          clearTimeout(timer);
          resolve(data.toString("latin1").split("\r\n")[0] ?? "");
          ws.close();
        });
        ws.on("error", (err) => resolve(`error: ${err.message}`));
      });
      expect(viaWss).toBe("SIP/2.0 200 OK");
      // The wss port speaks TLS only: a plain ws:// upgrade fails.
      const plainWs = await new Promise<string>((resolve) => {
        const ws = new WebSocket(`ws://127.0.0.1:${wssPort}`, "sip", { handshakeTimeout: 3000 });
        ws.on("open", () => {
          ws.close();
          resolve("open");
        });
        ws.on("error", (err) => resolve(`error: ${err.message}`));
      });
      expect(plainWs).toMatch(/^error: /);
    });
  });

  it("--tls-require-client-cert: a client without a certificate, or with one from another CA, is refused; one from the CA is answered", async () => {
    const [tlsPort, udpPort] = [await freePort(), await freePort()];
    await withProxy([
      "--listen", `tls:127.0.0.1:${tlsPort}`, "--listen", `udp:127.0.0.1:${udpPort}`, "--next-hop", `udp:127.0.0.1:${nextHopPort}`,
      "--tls-ca", pki.caFile, "--tls-require-client-cert",
    ], async () => {
      expect(await askOverTls(tlsPort, { ca: pki.caPem }, 5)).not.toMatch(/^SIP\/2\.0/);
      expect(await askOverTls(tlsPort, { ca: pki.caPem, cert: stranger.credentials.client!.certificatePem, key: stranger.credentials.client!.keyPem }, 6)).not.toMatch(/^SIP\/2\.0/);
      expect(await askOverTls(tlsPort, { ca: pki.caPem, cert: pki.credentials.client!.certificatePem, key: pki.credentials.client!.keyPem }, 7)).toBe("SIP/2.0 200 OK");
    });
  });

  it("openssl s_client, verifying the proxy against the CA, gets a SIP answer over TLS", async () => {
    const [tlsPort, udpPort] = [await freePort(), await freePort()];
    await withProxy([
      "--listen", `tls:127.0.0.1:${tlsPort}`, "--listen", `udp:127.0.0.1:${udpPort}`, "--next-hop", `udp:127.0.0.1:${nextHopPort}`,
    ], async () => {
      const client = spawn("openssl", ["s_client", "-connect", `127.0.0.1:${tlsPort}`, "-CAfile", pki.caFile, "-verify_return_error", "-verify_ip", "127.0.0.1", "-quiet"], { stdio: ["pipe", "pipe", "pipe"] });
      trackProcess(client);
      let out = "";
      let err = "";
      client.stderr.on("data", (d: Buffer) => (err += d.toString()));
      const answered = new Promise<string>((resolve) => {
        client.stdout.on("data", (d: Buffer) => {
          out += d.toString("latin1");
          if (out.includes("\r\n\r\n")) resolve(out.split("\r\n")[0] ?? "");
        });
        client.once("exit", () => resolve(`exited: ${err}`));
      });
      client.stdin.write(options("TLS", "127.0.0.1:1", 9));
      const first = await answered;
      client.kill("SIGTERM");
      expect(first, err).toBe("SIP/2.0 200 OK");
      expect(err).toMatch(/verify return:1/);
    });
  });

  it("a next hop over tls: gets the proxy's client certificate and its answer comes back (mutual TLS both ways)", async () => {
    // The next hop: a TLS server that asks for a client certificate from the CA and answers 200 OK.
    const presented: string[] = [];
    const hop = createTlsServer({ cert: pki.credentials.client!.certificatePem, key: pki.credentials.client!.keyPem, ca: pki.caPem, requestCert: true, rejectUnauthorized: true }, (sock: TLSSocket) => {
      presented.push(String(sock.getPeerCertificate().subject?.CN));
      let got = "";
      sock.on("data", (d: Buffer) => {
        got += d.toString("latin1");
        const end = got.indexOf("\r\n\r\n");
        if (end < 0) return;
        const head = got.slice(0, end).split("\r\n");
        got = got.slice(end + 4);
        const keep = head.filter((l) => /^(Via|From|Call-ID|CSeq):/i.test(l));
        const to = head.find((l) => /^To:/i.test(l)) ?? "To: <sip:bob@127.0.0.1>";
        sock.write(["SIP/2.0 200 OK", ...keep, `${to};tag=tlshop`, "Content-Length: 0", "", ""].join("\r\n"));
      });
      sock.on("error", () => undefined);
    });
    await new Promise<void>((resolve) => hop.listen(0, "127.0.0.1", resolve));
    const hopPort = (hop.address() as { port: number }).port;
    const tlsPort = await freePort();
    try {
      await withProxy([
        "--listen", `tls:127.0.0.1:${tlsPort}`, "--next-hop", `tls:127.0.0.1:${hopPort}`,
        "--tls-ca", pki.caFile, "--tls-require-client-cert",
      ], async () => {
        const client = { ca: pki.caPem, cert: pki.credentials.client!.certificatePem, key: pki.credentials.client!.keyPem };
        expect(await askOverTls(tlsPort, client, 8)).toBe("SIP/2.0 200 OK");
        // The proxy presented its own certificate to the next hop, which verified it against the CA.
        expect(presented).toEqual(["proxy"]);
      });
    } finally {
      await new Promise((r) => hop.close(r));
    }
  });

  it("impossible TLS settings are refused at start (exit 2), naming the option", async () => {
    const udp = `udp:127.0.0.1:${await freePort()}`;
    const tls = `tls:127.0.0.1:${await freePort()}`;
    const hop = ["--next-hop", `udp:127.0.0.1:${nextHopPort}`];
    writeFileSync(join(pki.dir, "empty.pem"), "");
    const cases: Array<[string[], RegExp]> = [
      [["--listen", tls, "--listen", udp, ...hop], /--listen tls:127\.0\.0\.1:\d+ needs --tls-cert and --tls-key/],
      [["--listen", `wss:127.0.0.1:${await freePort()}`, "--listen", udp, ...hop], /--listen wss:.* needs --tls-cert and --tls-key/],
      [["--listen", tls, "--listen", udp, ...hop, "--tls-cert", pki.files.proxy!.certificate], /--tls-cert given without --tls-key/],
      [["--listen", tls, "--listen", udp, ...hop, "--tls-cert", join(pki.dir, "missing.pem"), "--tls-key", pki.files.proxy!.key], /--tls-cert .*missing\.pem: cannot read \(ENOENT\)/],
      [["--listen", tls, "--listen", udp, ...hop, "--tls-cert", pki.files.proxy!.certificate, "--tls-key", pki.files.client!.key], /--tls-key .*: is not the key of --tls-cert/],
      [["--listen", tls, "--listen", udp, ...hop, "--tls-cert", pki.files.proxy!.certificate, "--tls-key", pki.files.proxy!.key, "--tls-ca", join(pki.dir, "empty.pem")], /--tls-ca .*empty\.pem: holds no CERTIFICATE PEM block/],
      [["--listen", tls, "--listen", udp, ...hop, "--tls-cert", pki.files.proxy!.certificate, "--tls-key", pki.files.proxy!.key, "--tls-require-client-cert"], /--tls-require-client-cert needs --tls-ca/],
      [["--listen", udp, ...hop, "--tls-cert", pki.files.proxy!.certificate, "--tls-key", pki.files.proxy!.key], /--tls-cert: no tls: or wss: --listen to present it on/],
    ];
    const runs = cases.map(([args]) => proxy(args));
    const codes = await Promise.all(runs.map((r) => r.exited));
    for (const [i, [, message]] of cases.entries()) {
      expect(codes[i], runs[i]!.output()).toBe(2);
      expect(runs[i]!.output()).toMatch(message);
    }
  });
});
