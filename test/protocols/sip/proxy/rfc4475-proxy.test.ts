// RFC 4475 torture messages that a proxy must answer with a specific status (RFC 3261 §16.3 / §8.2).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseSipMessage } from "../../../../protocols/sip/index.js";
import { PROXY, ProxyHarness, UAC } from "./harness.js";

const DIR = join(process.cwd(), "..", "shared", "corpora", "rfc4475", "invalid");

const CASES: { file: string; section: string; status: number; check?: (h: ProxyHarness) => void }[] = [
  { file: "novelsc.dat", section: "3.3.3 known but atypical Request-URI scheme", status: 416 },
  { file: "unkscm.dat", section: "3.3.2 unknown Request-URI scheme", status: 416 },
  { file: "badvers.dat", section: "3.1.2.16 unknown protocol version", status: 505 },
  { file: "mismatch01.dat", section: "3.1.2.17 start line and CSeq method mismatch", status: 400 },
  { file: "mismatch02.dat", section: "3.1.2.18 unknown method with CSeq method mismatch", status: 400 },
  { file: "zeromf.dat", section: "3.3.11 Max-Forwards of zero", status: 483 },
  {
    file: "bext01.dat",
    section: "3.3.5 Proxy-Require and Require (a proxy looks at Proxy-Require only)",
    status: 420,
    check: (h) => {
      const r = h.responsesTo(UAC.host).find((m) => m.status === 420)!;
      expect(r.getHeaders("Unsupported").join(",").replace(/\s/g, "")).toBe("noProxiesSupportThis,norDoAnyProxiesSupportThis");
    },
  },
];

describe("RFC 4475 messages answered by the proxy", () => {
  for (const c of CASES) {
    it(`${c.file} (${c.section}) → ${c.status}`, () => {
      const h = new ProxyHarness({ hook: () => ({ action: "forward", targets: [{ nextHop: { protocol: "udp", host: "192.0.2.20", port: 5060 } }] }) });
      const message = parseSipMessage(readFileSync(join(DIR, c.file)));
      h.layer.receive(message, { source: UAC, local: PROXY });
      const statuses = h.sent.filter((s) => "status" in s.message).map((s) => (s.message as { status: number }).status);
      expect(statuses).toEqual([c.status]);
      expect(h.sent.filter((s) => !("status" in s.message))).toHaveLength(0); // nothing forwarded
      c.check?.(h);
    });
  }
});
