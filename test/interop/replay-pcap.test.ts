// The pcap writer's output dissected by the real tshark: SIP, COPS, HTTP/XML (OSP) and RADIUS, nothing malformed.
import { describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { MessageRecord } from "../../lib/drivers/message-record.js";
import { writePcap } from "../../lib/replay/pcap-writer.js";
import { sipRequest, syntheticCall } from "../lib/replay/synthetic-call.js";

const dir = mkdtempSync(join(tmpdir(), "callgate-pcap-"));

function tshark(file: string, ...args: string[]): string {
  // Fails the test when tshark is missing (ENOENT), as a peer-dependent test must.
  return execFileSync("tshark", ["-r", file, "-d", "tcp.port==3288,cops", ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

function fields(file: string, filter: string, ...names: string[]): string[][] {
  const out = tshark(file, "-Y", filter, "-T", "fields", "-E", "separator=|", ...names.flatMap((n) => ["-e", n]));
  return out
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => l.split("|"));
}

// RFC 2865 §3: Code, Identifier, Length, Authenticator, then attributes (Type, Length, Value).
function radius(code: number, id: number, attributes: Array<[number, Buffer]>): Buffer {
  const attrs = Buffer.concat(attributes.map(([type, value]) => Buffer.concat([Buffer.from([type, value.length + 2]), value])));
  const head = Buffer.alloc(20);
  head[0] = code;
  head[1] = id;
  head.writeUInt16BE(20 + attrs.length, 2);
  Buffer.from("00112233445566778899aabbccddeeff", "hex").copy(head, 4);
  return Buffer.concat([head, attrs]);
}
const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n, 0);
  return b;
};

function capture(name: string, records: MessageRecord[], sipTransport: "udp" | "tcp"): string {
  const file = join(dir, name);
  writeFileSync(file, writePcap(records, { sipTransport }));
  return file;
}

const radiusRecords: MessageRecord[] = [
  { t: 900, proto: "RADIUS", from: "SIP1", to: "AAA", msg: "Access-Request", callId: "call-1@192.0.2.1", bytes: radius(1, 7, [[1, Buffer.from("alice")], [4, Buffer.from([192, 0, 2, 11])]]) },
  { t: 901, proto: "RADIUS", from: "AAA", to: "SIP1", msg: "Access-Accept", callId: "call-1@192.0.2.1", bytes: radius(2, 7, []) },
  { t: 902, proto: "RADIUS", from: "SIP1", to: "AAA", msg: "Accounting-Request", callId: "call-1@192.0.2.1", bytes: radius(4, 8, [[40, u32(1)], [44, Buffer.from("call-1")]]) },
  { t: 903, proto: "RADIUS", from: "AAA", to: "SIP1", msg: "Accounting-Response", callId: "call-1@192.0.2.1", bytes: radius(5, 8, []) },
];

describe("pcap writer under tshark", () => {
  for (const sipTransport of ["udp", "tcp"] as const) {
    const call = [...syntheticCall({ withExtras: true }), ...radiusRecords];
    // one SIP message larger than a TCP segment, so it must be split and reassembled
    const big = sipRequest("INFO", "call-1@192.0.2.1", "UAC");
    const padded = Buffer.from(big.toString("latin1").replace("Content-Length: 0", `X-Padding: ${"p".repeat(4000)}\r\nContent-Length: 0`), "latin1");
    call.push({ t: 950, proto: "SIP", from: "UAC", to: "SIP1", msg: "INFO", callId: "call-1@192.0.2.1", bytes: padded });
    const file = capture(`call-${sipTransport}.pcap`, call, sipTransport);

    it(`SIP over ${sipTransport}: every record dissected as its protocol, in order`, () => {
      const count = (proto: string) => call.filter((r) => r.proto === proto).length;
      const sip = fields(file, "sip", "sip.Method", "sip.Status-Code", "udp.dstport", "tcp.dstport", "tcp.srcport");
      expect(sip).toHaveLength(count("SIP"));
      sip.forEach(([method, status, udpPort, tcpDst, tcpSrc], k) => {
        const r = call.filter((x) => x.proto === "SIP")[k]!;
        if (/^\d{3} /.test(r.msg)) expect(status).toBe(r.msg.slice(0, 3));
        else expect(method).toBe(r.msg);
        if (sipTransport === "udp") expect(udpPort).toBe("5060");
        else expect([tcpDst, tcpSrc]).toContain("5060");
      });
      const cops = fields(file, "cops", "cops.op_code", "tcp.srcport", "tcp.dstport");
      expect(cops).toHaveLength(count("COPS"));
      const opCodes: Record<string, string> = { REQ: "1", DEC: "2", RPT: "3", KA: "9" };
      cops.forEach(([op, src, dst], k) => {
        const r = call.filter((x) => x.proto === "COPS")[k]!;
        expect(op).toBe(opCodes[r.msg.split(" ")[0]!]);
        // the policy server listens on 3288
        expect(r.from.startsWith("POL") ? src : dst).toBe("3288");
      });
      const http = fields(file, "http", "http.request.method", "http.response.code", "xml.tag");
      expect(http).toHaveLength(count("OSP"));
      http.forEach(([method, code, tags], k) => {
        const r = call.filter((x) => x.proto === "OSP")[k]!;
        if (r.to === "CH") expect(method).toBe("POST");
        else expect(code).toBe("200");
        expect(tags).toContain(`<${r.msg} componentId="1">`);
      });
      const rad = fields(file, "radius", "radius.code", "udp.dstport", "udp.srcport");
      // Access-* to and from 1812, Accounting-* 1813, all from the same client port
      expect(rad.map((row) => row[0])).toEqual(["1", "2", "4", "5"]);
      const [access, accept, accounting, accountingResponse] = rad as string[][];
      expect([access![1], accept![2], accounting![1], accountingResponse![2]]).toEqual(["1812", "1812", "1813", "1813"]);
      expect(new Set([access![2], accept![1], accounting![2], accountingResponse![1]]).size).toBe(1);
    });

    it(`SIP over ${sipTransport}: no malformed packet, no warning, valid checksums, clean TCP`, () => {
      const problems = tshark(file, "-o", "ip.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE", "-Y", "_ws.malformed || _ws.expert.severity >= warning || ip.checksum.status == 0 || tcp.checksum.status == 0 || udp.checksum.status == 0 || tcp.analysis.flags");
      expect(problems).toBe("");
      // every TCP connection opens with a full three-way handshake and closes with FIN both ways
      const syn = fields(file, "tcp.flags.syn == 1", "tcp.flags.ack", "tcp.stream");
      const streams = new Set(syn.map((row) => row[1]));
      expect(syn).toHaveLength(streams.size * 2);
      expect(fields(file, "tcp.flags.fin == 1", "tcp.stream")).toHaveLength(streams.size * 2);
      // relative sequence numbers continue across messages (one connection per pair, data in order)
      const seqs = fields(file, "cops && ip.src == 192.0.2.11 && ip.dst == 192.0.2.12", "tcp.seq", "tcp.len");
      for (let k = 1; k < seqs.length; k++) expect(Number(seqs[k]![0])).toBe(Number(seqs[k - 1]![0]) + Number(seqs[k - 1]![1]));
    });
  }

  it("the problem filter is not vacuous: a damaged capture is caught", () => {
    const call = syntheticCall();
    const pcap = writePcap(call, { sipTransport: "udp" });
    const cops = call.find((r) => r.proto === "COPS")!.bytes;
    const at = pcap.indexOf(cops);
    expect(at).toBeGreaterThan(0);
    const damaged = Buffer.from(pcap);
    damaged.writeUInt16BE(2, at + 8); // COPS Handle object shorter than its own header
    const sip = call[0]!.bytes;
    const invite = damaged.indexOf(sip);
    damaged.writeUInt8(damaged.readUInt8(invite + 2) ^ 0x20, invite + 2); // a flipped bit in the INVITE: UDP checksum no longer matches
    const file = join(dir, "damaged.pcap");
    writeFileSync(file, damaged);
    const problems = fields(file, "_ws.malformed || _ws.expert.severity >= warning", "frame.protocols");
    expect(problems.map((row) => row[0])).toEqual([expect.stringContaining("cops")]);
    const checked = tshark(file, "-o", "udp.check_checksum:TRUE", "-Y", "udp.checksum.status == 0", "-T", "fields", "-e", "sip.Method");
    expect(checked.trim()).toBe("INvITE"); // the damaged INVITE, and only it
  });

  it("addresses one host per role and timestamps the records' t", () => {
    const call = syntheticCall({ stepMs: 250 });
    const file = capture("times.pcap", call, "udp");
    const rows = fields(file, "sip", "frame.time_relative", "ip.src", "ip.dst");
    const sip = call.filter((r) => r.proto === "SIP");
    rows.forEach(([time, src, dst], k) => {
      expect(Number(time)).toBeCloseTo(sip[k]!.t / 1000, 3);
      expect(src).toBe(`192.0.2.${10 + ["UAC", "SIP1", "POL1", "R1", "CH", "SIP2", "POL2", "R2", "UAS"].indexOf(sip[k]!.from)}`);
      expect(dst).toBe(`192.0.2.${10 + ["UAC", "SIP1", "POL1", "R1", "CH", "SIP2", "POL2", "R2", "UAS"].indexOf(sip[k]!.to)}`);
    });
  });
});
