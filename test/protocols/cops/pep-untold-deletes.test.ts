// RFC 2748 §2.5 at the PEP: a request state that ends while no PDP is connected is told to the next PDP that
// accepts the PEP (its last REQ with the local decision, then DRQ), so a restarted policy server still accounts
// for it; a state the local decision point refused and no PDP ever saw is dropped untold.
import { describe, expect, it } from "vitest";
import { ClientType, CommandCode, ReasonCode, decodeCopsMessage, encodeCopsMessage, sipAaaContext } from "../../../protocols/cops/index.js";
import { CopsPepConnection, type CopsPepCommand } from "../../../protocols/cops/connection/pep-connection.js";
import type { CopsAction } from "../../../protocols/cops/connection/cops-actions.js";

const CAT = encodeCopsMessage({ op: "CAT", clientType: ClientType.SipAaa, kaTimerSeconds: 30 });

/** The messages a list of machine actions sends, as "OP handle [LPDP command]". */
function sent(actions: CopsAction<unknown>[]): string[] {
  const out: string[] = [];
  for (const a of actions) {
    if (a.type !== "send") continue;
    const m = decodeCopsMessage(a.bytes);
    const handle = "handle" in m && m.handle ? ` ${m.handle.readUInt32BE(0)}` : "";
    const local = m.op === "REQ" && m.lpdpDecisions.length > 0 ? ` LPDP ${m.lpdpDecisions[0]?.command}` : "";
    out.push(`${m.op}${handle}${local}`);
  }
  return out;
}

describe("COPS PEP: states deleted while no PDP is connected", () => {
  it("are told to the next PDP (REQ, then DRQ) when a PDP had seen them; one refused locally and never seen is not", () => {
    const pep = new CopsPepConnection({ clientType: ClientType.SipAaa, pepId: "sip1.example.com", localDecision: "fail-closed" });
    const request = (handle: Buffer, purpose: "AAA" | "noLDP"): CopsPepCommand => ({ type: "request", handle, context: sipAaaContext(purpose), clientSi: [{ cType: 1, data: Buffer.from(purpose) }] });
    pep.handle({ type: "connected" }, 0);
    pep.handle({ type: "message", bytes: CAT }, 1);
    const admitted = pep.allocateHandle();
    expect(sent(pep.handle(request(admitted, "AAA"), 2))).toEqual(["REQ 1"]);

    pep.handle({ type: "disconnected", reason: "PDP killed" }, 3);
    // The call ends while no PDP listens: REQ noLDP decided locally, then the state deleted.
    const local = pep.handle(request(admitted, "noLDP"), 4);
    expect(local.some((a) => a.type === "emit" && a.event.type === "local-decision")).toBe(true);
    expect(sent(pep.handle({ type: "delete", handle: admitted, reason: { code: ReasonCode.Tear, subCode: 0 } }, 5))).toEqual([]);
    // A new call in the outage, refused by the local decision point, then deleted: no PDP ever saw it.
    const refused = pep.allocateHandle();
    pep.handle(request(refused, "AAA"), 6);
    pep.handle({ type: "delete", handle: refused, reason: { code: ReasonCode.Tear, subCode: 0 } }, 7);
    expect(pep.openHandles).toBe(1); // the admitted call's state waits to be told

    pep.handle({ type: "connected" }, 8);
    const resync = pep.handle({ type: "message", bytes: CAT }, 9);
    expect(sent(resync)).toEqual([`REQ 1 LPDP ${CommandCode.Remove}`, "DRQ 1"]);
    expect(pep.openHandles).toBe(0);
    expect(pep.hasHandle(admitted)).toBe(false);
  });

  it("a state deleted while connected goes at once, as before (DRQ, nothing kept)", () => {
    const pep = new CopsPepConnection({ clientType: ClientType.SipAaa, pepId: "sip1.example.com" });
    pep.handle({ type: "connected" }, 0);
    pep.handle({ type: "message", bytes: CAT }, 1);
    const h = pep.allocateHandle();
    pep.handle({ type: "request", handle: h, context: sipAaaContext("AAA") }, 2);
    expect(sent(pep.handle({ type: "delete", handle: h }, 3))).toEqual(["DRQ 1"]);
    expect(pep.openHandles).toBe(0);
  });
});
