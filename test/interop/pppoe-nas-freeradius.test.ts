// The concentrator's NAS against FreeRADIUS: Access-Request for a line's PAP and CHAP-MD5 credentials (accepted
// and refused), and the Accounting Start/Stop records of an end-user session, sent by the accounting exporter,
// as FreeRADIUS records them.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chapMd5Response } from "../../protocols/pppoe/index.js";
import { RadiusUdpClient } from "../../protocols/radius/index.js";
import { AccessNas } from "../../lib/access/nas.js";
import { AccountingExporter } from "../../lib/accounting/exporter.js";
import { freeUdpPort, startFreeradiusLab } from "../support/freeradius-lab.mjs";

const SECRET = "nas-secret";
let dir = "";
let freeradius: { detailFile: string; stop: () => Promise<void> } | undefined;
let client: RadiusUdpClient | undefined;
let nas: AccessNas;
let exporter: AccountingExporter | undefined;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "pppoe-nas-"));
  const ports = { auth: await freeUdpPort(), acct: await freeUdpPort() };
  freeradius = await startFreeradiusLab({
    dir,
    secret: SECRET,
    authPort: ports.auth,
    acctPort: ports.acct,
    users: 'alice\tCleartext-Password := "wonderland"\n',
    // FreeRADIUS's chap module sets Auth-Type CHAP for a request with CHAP-Password, then checks it.
    authorize: "files\n\t\tchap\n\t\tpap",
    authenticate: "Auth-Type PAP {\n\t\t\tpap\n\t\t}\n\t\tAuth-Type CHAP {\n\t\t\tchap\n\t\t}",
  });
  client = await RadiusUdpClient.open({ secret: SECRET, bindAddress: "127.0.0.1", initialTimeoutMs: 1000, maxRetransmissions: 3 });
  nas = new AccessNas({
    client,
    auth: { address: "127.0.0.1", port: ports.auth },
    nasIdentifier: "lab-ac",
    nasIpAddress: "127.0.0.1",
  });
  exporter = await AccountingExporter.open({ spoolPath: join(dir, "acct.spool"), servers: [{ address: "127.0.0.1", port: ports.acct }], secret: SECRET, bindAddress: "127.0.0.1" });
});

afterAll(async () => {
  await client?.close();
  await exporter?.close();
  await freeradius?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("AccessNas against FreeRADIUS", () => {
  it("PAP: accepts the right password and refuses a wrong one", async () => {
    expect((await nas.authenticate(3, { method: "pap", peerId: "alice", password: Buffer.from("wonderland") })).ok).toBe(true);
    expect((await nas.authenticate(3, { method: "pap", peerId: "alice", password: Buffer.from("looking-glass") })).ok).toBe(false);
  });

  it("CHAP-MD5: FreeRADIUS checks the line's response against its challenge (RFC 2865 §5.3)", async () => {
    const challenge = Buffer.from("00112233445566778899aabbccddeeff", "hex");
    const good = chapMd5Response(42, "wonderland", challenge);
    expect((await nas.authenticate(4, { method: "chap", peerId: "alice", identifier: 42, challenge, response: good })).ok).toBe(true);
    const bad = chapMd5Response(42, "guess", challenge);
    expect((await nas.authenticate(4, { method: "chap", peerId: "alice", identifier: 42, challenge, response: bad })).ok).toBe(false);
  });

  it("Accounting Start and Stop carry the session, the line, the address and the octets past 2^32 in Gigawords", async () => {
    const session = { key: "run1-7-100.64.0.10", user: "alice", line: 7, address: "100.64.0.10", startedAt: 1_796_600_000_000 };
    exporter!.submit([
      nas.startRecord(session, session.startedAt),
      nas.stopRecord(session, { octetsIn: 2 ** 32 + 5, octetsOut: 1234, packetsIn: 10, packetsOut: 11 }, "User-Request", session.startedAt + 61_000),
    ]);
    expect(await exporter!.drained(10_000)).toBe(true);
    const records = readFileSync(freeradius!.detailFile, "utf8").split(/\n\n+/).filter((r) => r.includes("run1-7-100.64.0.10"));
    // one Start and one Stop; the exporter has both in flight at once, so the server may log either first
    expect(records).toHaveLength(2);
    expect(records.filter((r) => /Acct-Status-Type = Start/.test(r))).toHaveLength(1);
    const stop = records.find((r) => /Acct-Status-Type = Stop/.test(r))!;
    for (const field of [
      "Acct-Status-Type = Stop",
      'User-Name = "alice"',
      "NAS-Port = 7",
      "NAS-Port-Type = Async",
      "Framed-IP-Address = 100.64.0.10",
      "Acct-Input-Octets = 5",
      "Acct-Input-Gigawords = 1",
      "Acct-Output-Octets = 1234",
      "Acct-Session-Time = 61",
      "Acct-Terminate-Cause = User-Request",
      'NAS-Identifier = "lab-ac"',
    ]) expect(stop).toContain(field);
  });
});
