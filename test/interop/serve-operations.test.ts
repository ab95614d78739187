// A `callgate serve` role process as an operator sees it: metrics port and log level from the deployment file (issue 12).
import { mkdtempSync, writeFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { spawnCli } from "../support/cli-process.js";
import { freePort } from "./sip-sipp-helpers.js";

async function untilAsync(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
}

describe("callgate serve, operated", () => {
  it("serves /metrics on roles.CH.metrics, logs JSON at roles.CH.log, and logs its start and stop", async () => {
    const dir = mkdtempSync(join(tmpdir(), "callgate-serve-ops-"));
    const [pol1, ch, pol2, metrics] = [await freePort(), await freePort(), await freePort(), await freePort()];
    const file = join(dir, "deploy.yaml");
    writeFileSync(
      file,
      [
        "roles:",
        `  POL1: { host: 127.0.0.1, cops: ${pol1} }`,
        `  CH:   { host: 127.0.0.1, osp: ${ch}, metrics: ${metrics}, log: debug }`,
        `  POL2: { host: 127.0.0.1, cops: ${pol2} }`,
        "",
      ].join("\n"),
    );
    const served = spawnCli("serve", ["CH", "--config", file]);
    try {
      await served.waitFor("CH ready", { ms: 20_000, stream: "stdout" });
      expect(served.stdout()).toContain(`CH ready osp http://127.0.0.1:${ch}/osp  metrics http://127.0.0.1:${metrics}/metrics`);
      const text = await (await fetch(`http://127.0.0.1:${metrics}/metrics`)).text();
      expect(text).toContain('callgate_cdrs_written_total{role="CH"} 0');
      expect(text).toMatch(/^callgate_process_resident_memory_bytes\{role="CH"\} \d+/m);
      expect((await fetch(`http://127.0.0.1:${metrics}/other`)).status).toBe(404);
      // Three idle connections to the OSP listener show in its connections gauge (sampled every second).
      const idle = await Promise.all([1, 2, 3].map(() => new Promise<Socket>((resolve) => { const s = connect(ch, "127.0.0.1", () => resolve(s)); })));
      let gauge = "";
      await untilAsync(async () => {
        gauge = /^callgate_connections\{listener="CH OSP",role="CH"\} (\d+)/m.exec(await (await fetch(`http://127.0.0.1:${metrics}/metrics`)).text())?.[1] ?? "";
        return gauge === "3";
      }, 5000);
      expect(gauge).toBe("3");
      for (const s of idle) s.destroy();
      expect(await served.stop()).toBe(0);
      const lines = served.stderr().trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(lines.map((l) => [l.name, l.level, l.msg])).toEqual([
        ["CH", 30, "CH started"],
        ["CH", 30, "CH stopped"],
      ]);
      expect(lines[0]?.metrics).toBe(`127.0.0.1:${metrics}`);
    } finally {
      if (served.child.exitCode === null) served.child.kill("SIGKILL");
    }
  }, 30_000);
});
