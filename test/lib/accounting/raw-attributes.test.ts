// Attributes a record keeps as their type and octets (a NAS's Vendor-Specific, RFC 2865 §5.26, or a type the
// dictionary does not know): spooled as {"b64": …} under the type number, read back after a crash and after
// compaction byte for byte, sent onto the wire byte for byte by the exporter (to this project's RADIUS server on
// loopback, a stand-in that shows what arrived); a damaged raw entry is a bad line, never an exception.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { AccountingExporter } from "../../../lib/accounting/exporter.js";
import { fromRadiusAttribute, toRadiusAttribute, type AccountingRecord } from "../../../lib/accounting/records.js";
import { AccountingSpool, parseSpool } from "../../../lib/accounting/spool.js";
import { RadiusCode, RadiusUdpServer, radiusAttribute, radiusAttributeOctets, vendorSpecific, type RadiusAttribute } from "../../../protocols/radius/index.js";

const dir = mkdtempSync(join(tmpdir(), "acct-raw-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const VSA = vendorSpecific(311, [{ vendorType: 7, value: Buffer.from([0x00, 0xff, 0x0a, 0x22]) }]);
const UNKNOWN: RadiusAttribute = { type: 243, kind: "octets", value: Buffer.from([0x7b, 0, 0x5d]) };
const CLASS = radiusAttribute("Class", Buffer.from([0xc3, 0x28, 0]));

function record(key: string): AccountingRecord {
  const received = [radiusAttribute("User-Name", "bob@isp-b.example"), radiusAttribute("Acct-Status-Type", "Start"), radiusAttribute("Acct-Session-Id", key), CLASS, VSA, UNKNOWN];
  return { key, sessionId: key, status: "Start", eventMs: Date.now(), attributes: received.map(fromRadiusAttribute) };
}

describe("raw attributes in accounting records", () => {
  it("a Vendor-Specific and an unknown type are kept as octets, named attributes by name", () => {
    const r = record("k");
    expect(r.attributes).toContainEqual([26, radiusAttributeOctets(VSA)]);
    expect(r.attributes).toContainEqual([243, UNKNOWN.value]);
    expect(r.attributes).toContainEqual(["Class", CLASS.value]);
    // User-Password outside an Access-Request is octets: kept as such, so it encodes again.
    const pw: RadiusAttribute = { type: 2, kind: "octets", value: Buffer.alloc(16, 1) };
    expect(fromRadiusAttribute(pw)).toEqual([2, pw.value]);
    expect(toRadiusAttribute(fromRadiusAttribute(pw))).toEqual(pw);
  });

  it("spooled, recovered and compacted byte for byte", () => {
    const path = join(dir, "raw.spool");
    const spool = AccountingSpool.open(path, AccountingSpool.recover(path), 40100);
    spool.accept([record("r1")]);
    spool.close();
    expect(readFileSync(path, "utf8")).toContain(`[26,{"b64":"${radiusAttributeOctets(VSA).toString("base64")}"}]`);
    const state = AccountingSpool.recover(path);
    expect(state.badLines).toBe(0);
    expect(state.pending[0]!.record.attributes.map(toRadiusAttribute)).toEqual(record("r1").attributes.map(toRadiusAttribute));
    AccountingSpool.open(path, state, 40100).close();
    expect(AccountingSpool.recover(path).pending[0]!.record.attributes.map(toRadiusAttribute)).toContainEqual(VSA);
  });

  it("a damaged raw entry is a bad line", () => {
    const line = (attr: string) => `{"rec":{"key":"k","sessionId":"s","status":"Start","eventMs":1,"attributes":[${attr}]}}`;
    const hostile = [
      line('[26,{"b64":"AAA="}]'), // shorter than a Vendor-Id
      line('[26,{"b64":"AQAACQ=="}]'), // Vendor-Id high octet not 0
      line('[300,{"b64":"AAAA"}]'), // not one octet
      line('[1.5,{"b64":"AAAA"}]'),
      line('[26,"text"]'),
      line('[46,{"b64":"AAA="}]'), // an integer of 2 octets
      line(`[243,{"b64":"${Buffer.alloc(254).toString("base64")}"}]`), // over 253 octets
    ].join("\n");
    const state = parseSpool(hostile);
    expect(state.pending).toEqual([]);
    expect(state.badLines).toBe(7);
  });

  it("the exporter sends them byte for byte", async () => {
    const got: RadiusAttribute[][] = [];
    const s = await RadiusUdpServer.listen({
      port: 0,
      secretFor: () => "s3cret",
      handler: (p) => {
        got.push(p.attributes);
        return { code: RadiusCode.AccountingResponse, attributes: [] };
      },
    });
    const ex = await AccountingExporter.open({ spoolPath: join(dir, "raw-send.spool"), servers: [s.address()], secret: "s3cret", bindAddress: "127.0.0.1" });
    ex.submit([record("x1")]);
    expect(await ex.drained(10_000)).toBe(true);
    expect(got).toHaveLength(1);
    expect(got[0]).toContainEqual(VSA);
    expect(got[0]).toContainEqual(UNKNOWN);
    expect(got[0]).toContainEqual(CLASS);
    await ex.close();
    await s.close();
  });
});
