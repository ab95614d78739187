import { describe, expect, it } from "vitest";
import { DropLog } from "../../../lib/observability/drop-log.js";
import { RoleMetrics, startMetricsServer } from "../../../lib/observability/metrics.js";
import { captureLog } from "../../support/observability-helpers.js";


describe("DropLog", () => {
  it("counts every drop and logs one line per cause per interval, with the suppressed count", async () => {
    let now = 0;
    const { logger, lines } = captureLog();
    const seen: string[] = [];
    const drops = new DropLog(logger, { intervalMs: 1000, now: () => now, onDrop: (c) => seen.push(c) });
    for (let i = 0; i < 500; i++) drops.drop("bad-length", { peer: "127.0.0.1" });
    drops.drop("bad-version");
    now = 1500;
    drops.drop("bad-length");
    await new Promise((r) => setImmediate(r));
    expect(drops.count("bad-length")).toBe(501);
    expect(drops.counts()).toEqual({ "bad-length": 501, "bad-version": 1 });
    expect(seen.length).toBe(502);
    expect(lines.map((l) => [l.cause, l.suppressedSinceLast])).toEqual([
      ["bad-length", 0],
      ["bad-version", 0],
      ["bad-length", 499],
    ]);
  });
});

describe("RoleMetrics", () => {
  it("serves the role's counters on GET /metrics and 404 elsewhere", async () => {
    const metrics = new RoleMetrics("POL1");
    metrics.drops.inc({ proto: "cops", cause: "bad-version" });
    metrics.cdrsWritten.inc(3);
    const server = await startMetricsServer(metrics, "127.0.0.1", 0);
    try {
      const res = await fetch(`http://127.0.0.1:${server.address.port}/metrics`);
      expect(res.status).toBe(200);
      const text = await res.text();
      expect(text).toContain('callgate_drops_total{proto="cops",cause="bad-version",role="POL1"} 1');
      expect(text).toContain('callgate_cdrs_written_total{role="POL1"} 3');
      expect(text).toMatch(/callgate_process_resident_memory_bytes\{role="POL1"\} \d+/);
      expect((await fetch(`http://127.0.0.1:${server.address.port}/other`)).status).toBe(404);
    } finally {
      await server.close();
    }
  });
});
