import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  ClientType,
  CopsPdpConnection,
  decodeCopsMessage,
  encodeCopsMessage,
  type CopsMessage,
} from "../../../protocols/cops/index.js";
import { messageArbs } from "./arbitraries.js";
import { sampleClientTypeMessages } from "./samples.js";

function openPdp(): CopsPdpConnection {
  const pdp = new CopsPdpConnection({ clientTypes: [ClientType.SipAaa, ClientType.DiffServPr], kaTimerSeconds: 30 });
  pdp.handle({ type: "connected" }, 0);
  pdp.handle({ type: "message", bytes: encodeCopsMessage({ op: "OPN", clientType: ClientType.SipAaa, pepId: "pep" }) }, 0);
  return pdp;
}

describe("PDP machine against malformed and unexpected input", () => {
  it("a solicited RPT with no DEC to answer is reported as a protocol error", () => {
    const pdp = openPdp();
    const handle = Buffer.from([0, 0, 0, 1]);
    pdp.handle({ type: "message", bytes: encodeCopsMessage({ op: "REQ", clientType: ClientType.SipAaa, handle, context: { rType: 8, mType: 0 }, clientSi: [], lpdpDecisions: [] }) }, 0);
    const actions = pdp.handle({ type: "message", bytes: encodeCopsMessage({ op: "RPT", clientType: ClientType.SipAaa, solicited: true, handle, reportType: 1 }) }, 0);
    const events = actions.flatMap((a) => (a.type === "emit" ? [a.event] : []));
    expect(events[0]).toMatchObject({ type: "protocol-error" });
    expect(events[1]).toMatchObject({ type: "report", answersDecision: false });
  });

  it("5,000 mutated REQs: the machine never throws and answers each with a request event, a DEC with Error, or CC", () => {
    const seeds = [
      ...fc.sample(messageArbs.REQ, { numRuns: 50, seed: 3 }).map((m) => encodeCopsMessage({ ...m, integrity: undefined } as CopsMessage)),
      ...sampleClientTypeMessages().filter((m) => m.op === "REQ").map(encodeCopsMessage),
    ];
    let seed = 12345;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    const outcomes = { request: 0, decError: 0, cc: 0, other: 0 };
    for (let i = 0; i < 5_000; i++) {
      const bytes = Buffer.from(seeds[i % seeds.length] as Buffer);
      const flips = 1 + Math.floor(rnd() * 3);
      for (let k = 0; k < flips; k++) {
        const pos = 8 + Math.floor(rnd() * (bytes.length - 8));
        bytes[pos] = Math.floor(rnd() * 256);
      }
      const pdp = openPdp();
      const actions = pdp.handle({ type: "message", bytes }, 0);
      const sent = actions.flatMap((a) => (a.type === "send" ? [decodeCopsMessage(a.bytes)] : []));
      const emitted = actions.flatMap((a) => (a.type === "emit" ? [a.event.type] : []));
      if (emitted.includes("request")) outcomes.request++;
      else if (sent[0]?.op === "DEC" && sent[0].error) {
        // the DEC with Error is addressed to the REQ's handle (RFC 2748 §3.2)
        expect(sent[0].handle.length).toBeGreaterThan(0);
        expect(pdp.connectionState).toBe("open");
        outcomes.decError++;
      } else if (sent[0]?.op === "CC") outcomes.cc++;
      else outcomes.other++;
    }
    expect(outcomes.other).toBe(0);
    expect(outcomes.decError).toBeGreaterThan(100);
    expect(outcomes.request).toBeGreaterThan(100);
  });
});
