// `callgate replay` over the real flow runner, both drivers: the recorded ladders pass check-ladder.mjs and the
// pcap of the real encodings (SIP codec, COPS codec, OSP over HTTP) dissects under tshark with nothing malformed.
import { describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCheckLadderTool } from "../../lib/replay/check-ladder-tool.js";
import { fromJsonLines } from "../../lib/replay/ladder-json.js";
import { replayInProcess } from "../support/replay-in-process.js";

const dir = mkdtempSync(join(tmpdir(), "callgate-runner-pcap-"));

const replay = (args: string[]) => replayInProcess(args);

function tshark(file: string, ...args: string[]): string {
  return execFileSync("tshark", ["-r", file, "-d", "tcp.port==3288,cops", ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

/** A short FIG. 5/6 call so the network run takes about a second of real time. */
function shortScenario(name: string, clearinghouse: "osp-http" | "none", sipTransport: "udp" | "tcp"): string {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(
    file,
    [
      `name: ${name}`,
      "seed: 1",
      "topology:",
      `  clearinghouse: ${clearinghouse}`,
      `  sipTransport: ${sipTransport}`,
      "calls:",
      "  - id: call-1",
      "    caller: sip:alice@example.com",
      "    callee: sip:bob@example.net",
      "    answerDelayMs: 300",
      "    durationMs: 1000",
      "    expect: {flow: fig5-fig6, finalStatus: 200, established: true}",
      "",
    ].join("\n"),
  );
  return file;
}

const cases = [
  ["memory", "osp-http", "udp"],
  ["net", "osp-http", "udp"],
  ["net", "none", "tcp"],
] as const;

describe("replay over the real runner, pcap under tshark", () => {
  for (const [driver, clearinghouse, sipTransport] of cases)
    it(`${driver} driver, clearinghouse ${clearinghouse}, SIP over ${sipTransport}`, { timeout: 60_000 }, async () => {
      const name = `fig5-fig6-${driver}-${clearinghouse}-${sipTransport}`;
      const out = (ext: string) => join(dir, `${name}.${ext}`);
      const r = await replay([shortScenario(name, clearinghouse, sipTransport), ...(driver === "net" ? ["--net"] : []), "--ladder-json", out("jsonl"), "--pcap", out("pcap")]);
      expect(r.stderr).toBe("");
      expect(r.stdout).toMatch(/expectations: all \d+ hold/);
      expect(r.code).toBe(0);
      for (const flow of ["setup", "teardown"] as const) expect(runCheckLadderTool(out(`${flow}.jsonl`), flow, { noClearinghouse: clearinghouse === "none" }).ok).toBe(true);

      const records = fromJsonLines(readFileSync(out("jsonl"), "utf8"));
      const problems = tshark(out("pcap"), "-o", "tcp.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE", "-Y", "_ws.malformed || _ws.expert.severity >= warning || tcp.checksum.status == 0 || udp.checksum.status == 0 || tcp.analysis.flags");
      expect(problems).toBe("");
      const count = (filter: string) => tshark(out("pcap"), "-Y", filter).split("\n").filter(Boolean).length;
      expect(count("sip")).toBe(records.filter((x) => x.proto === "SIP").length);
      expect(count("cops")).toBe(records.filter((x) => x.proto === "COPS").length);
      expect(count("http")).toBe(records.filter((x) => x.proto === "OSP").length);
      if (clearinghouse === "none") expect(count("http")).toBe(0);
      // OSP goes on the wire as the toolkit spells it (US), the ladder labels as TS 101 321 does
      else expect(tshark(out("pcap"), "-Y", "xml", "-T", "fields", "-e", "xml.tag")).toMatch(/<Authori[sz]ationRequest /);
    });
});
