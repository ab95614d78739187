// scenarios/transports-per-hop.yaml through `callgate replay` on both drivers: the user agents over TCP, the proxies
// over UDP. Each proxy record-routes twice (RFC 5658 §4: outbound side on top, inbound side below); on sockets each
// value names the listener the hop really used. ACK and BYE from either end pass by those values, each proxy taking
// its own two off; setup and teardown pass check-ladder.mjs. userAgentTransports mistakes are refused at their line.
import { describe, expect, it } from "vitest";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseSipMessage, parseViaValue } from "../../../protocols/sip/index.js";
import type { MessageRecord } from "../../../lib/drivers/message-record.js";
import { runCheckLadderTool } from "../../../lib/replay/check-ladder-tool.js";
import { mirrorLadder, splitCallLadder, writeJsonLines } from "../../../lib/replay/ladder-json.js";
import { parseScenario, toRunOptions } from "../../../lib/replay/scenario.js";
import { replayScenarioWithResult, scenarioRefusal } from "../../support/replay-in-process.js";

const file = join("scenarios", "transports-per-hop.yaml");
const dir = mkdtempSync(join(tmpdir(), "callgate-transports-per-hop-"));

const sipOf = (r: MessageRecord) => parseSipMessage(r.bytes);
const find = (records: MessageRecord[], from: string, to: string, msg: string) => records.find((r) => r.proto === "SIP" && r.from === from && r.to === to && r.msg === msg);
/** The transport a request left on, from the Via its sender put on top (RFC 3261 §18.1.1). */
const viaTransport = (r: MessageRecord) => parseViaValue(sipOf(r).getHeaders("Via")[0]!)[0]!.transport;

const replay = (driver: "memory" | "net") => replayScenarioWithResult(file, driver);

describe("scenario transports-per-hop: user agents over TCP, proxies over UDP (RFC 5658)", () => {
  for (const driver of ["memory", "net"] as const)
    it(`${driver} driver: each proxy record-routes twice with the transport of each side, ACK and BYE pass by them, FIG. 5 and FIG. 6 pass check-ladder`, { timeout: 60_000 }, async () => {
      const { code, stdout, stderr, result } = await replay(driver);
      expect(stderr).toBe("");
      expect(stdout).toMatch(/expectations: all 14 hold/);
      expect(code).toBe(0);
      for (const call of result.calls) {
        const id = call.spec.id!;
        const records = result.records.filter((r) => r.callId === call.callId);
        const hops = [["UAC", "SIP1", "TCP"], ["SIP1", "SIP2", "UDP"], ["SIP2", "UAS", "TCP"]] as const;
        const invites = hops.map(([from, to]) => find(records, from, to, "INVITE")!);
        invites.forEach((r, i) => expect(viaTransport(r), `${id} ${hops[i]![0]}>${hops[i]![1]}`).toBe(hops[i]![2]));
        // what the callee got: SIP2's TCP side on top of its UDP side, then SIP1's UDP side on top of its TCP side
        const rr = sipOf(invites[2]!).getHeaders("Record-Route");
        const transportOf = (v: string) => /;transport=(\w+)/.exec(v)?.[1] ?? "udp";
        expect(rr.map(transportOf), id).toEqual(["tcp", "udp", "udp", "tcp"]);
        expect(sipOf(invites[1]!).getHeaders("Record-Route"), id).toEqual(rr.slice(2));
        if (driver === "memory") expect(rr.map((v) => /^<sip:([^;:>]+)/.exec(v)?.[1]), id).toEqual(["sip2.example.com", "sip2.example.com", "sip1.example.com", "sip1.example.com"]);
        else {
          // each value is a listener the hop really used: SIP1's TCP one the caller reached, SIP1's and SIP2's UDP
          // sockets the INVITE went between, SIP2's TCP listener (its address in the run's endpoints)
          for (const r of records.filter((x) => x.proto === "SIP")) {
            const hop = hops.find(([a, b]) => (r.from === a && r.to === b) || (r.from === b && r.to === a));
            expect(r.transport?.kind, `${id} ${r.from}>${r.to} ${r.msg}`).toBe(hop![2].toLowerCase());
          }
          const port = (v: string) => Number(/^<sip:127\.0\.0\.1:(\d+)[;>]/.exec(v)?.[1]);
          expect(port(rr[3]!), id).toBe(invites[0]!.transport!.dstPort);
          expect(port(rr[2]!), id).toBe(invites[1]!.transport!.srcPort);
          expect(port(rr[1]!), id).toBe(invites[1]!.transport!.dstPort);
          expect(`127.0.0.1:${port(rr[0]!)};transport=tcp`, id).toBe(result.endpoints!.SIP2!.sip);
        }
        // the ends' ACK and BYE carry the whole set as their Route; each proxy takes its own two off (RFC 5658 §4)
        const fromCaller = [...rr].reverse();
        const ack = sipOf(find(records, "UAC", "SIP1", "ACK")!);
        expect(ack.getHeaders("Route"), id).toEqual(fromCaller);
        expect(sipOf(find(records, "SIP1", "SIP2", "ACK")!).getHeaders("Route"), id).toEqual(fromCaller.slice(2));
        expect(sipOf(find(records, "SIP2", "UAS", "ACK")!).getHeaders("Route"), id).toEqual([]);
        const [byer, first, second, last] = call.spec.hangUp === "caller" ? ["UAC", "SIP1", "SIP2", "UAS"] : ["UAS", "SIP2", "SIP1", "UAC"];
        const routeSet = call.spec.hangUp === "caller" ? fromCaller : rr;
        expect(sipOf(find(records, byer, first, "BYE")!).getHeaders("Route"), id).toEqual(routeSet);
        expect(sipOf(find(records, first, second, "BYE")!).getHeaders("Route"), id).toEqual(routeSet.slice(2));
        expect(sipOf(find(records, second, last, "BYE")!).getHeaders("Route"), id).toEqual([]);
        // FIG. 5 and FIG. 6 (mirrored for the callee's BYE) under the reference checker
        const { setup, teardown } = splitCallLadder(records);
        for (const [flow, ladder, steps] of [["setup", setup, 28], ["teardown", call.spec.hangUp === "callee" ? mirrorLadder(teardown) : teardown, 18]] as const) {
          const path = join(dir, `${driver}.${id}.${flow}.jsonl`);
          writeJsonLines(path, ladder);
          const verdict = runCheckLadderTool(path, flow);
          expect(verdict.output, `${id} ${flow}`).toMatch(new RegExp(`all ${steps} steps in causal order`));
          expect(verdict.ok, `${id} ${flow}`).toBe(true);
        }
      }
      expect(result.cdrs.map((c) => c.role).sort()).toEqual(["destination", "destination", "source", "source"]);
      expect(result.leftovers).toEqual({ classifiers: 0, copsRequestStates: 0, pendingTransactions: 0 });
    });
});

describe("scenario topology.userAgentTransports: parsed onto the topology, refused with line, column and field", () => {
  const topology = (lines: string) => `name: x\ntopology:\n  sipTransport: udp\n${lines}calls:\n  - caller: sip:a@example.com\n    callee: sip:b@example.net\n`;
  const problems = (yaml: string): string => scenarioRefusal(yaml, "s.yaml");

  it("reaches the run's topology", () => {
    expect(toRunOptions(parseScenario(topology("  userAgentTransports: {UAC: tcp}\n"))).topology).toEqual({ sipTransport: "udp", userAgentTransports: { UAC: "tcp" } });
  });

  it("a transport the user agents do not speak, a role that is no user agent, an empty mapping", () => {
    expect(problems(topology("  userAgentTransports: {UAC: tls}\n"))).toBe(`s.yaml:4:30: topology.userAgentTransports.UAC: must be one of "udp", "tcp"`);
    expect(problems(topology("  userAgentTransports: {SIP1: tcp}\n"))).toBe("s.yaml:4:25: topology.userAgentTransports.SIP1: unknown field 'SIP1'");
    expect(problems(topology("  userAgentTransports: {}\n"))).toMatch(/^s\.yaml:4:24: topology\.userAgentTransports: must NOT have fewer than 1 properties$/);
  });
});
