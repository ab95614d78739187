// RFC 2748 §3.1–§3.10 object grammars: message model <-> ordered object list, with mandatory/order/repeat checks.
import { CopsDecodeError } from "./cops-decode-error.js";
import { ErrorCode } from "./constants.js";
import type {
  CopsClientSi,
  CopsDecision,
  CopsInterface,
  CopsMessage,
  CopsOp,
  CopsServerAddress,
  CopsSyncCompleteMessage,
  CopsSyncRequestMessage,
} from "./cops-message.js";
import type { DecodedObject } from "./objects/cops-object.js";
import type { CopsObject, CopsObjectKind, IntegrityObject } from "./objects/object-types.js";

/** The object model whose `kind` union includes K. */
type ObjectOf<K extends CopsObjectKind> = CopsObject extends infer O ? (O extends { kind: infer OK } ? (K extends OK ? O : never) : never) : never;

/** Walks the decoded objects of one message in order. */
class ObjectCursor {
  private index = 0;
  constructor(
    private readonly objects: readonly DecodedObject[],
    private readonly op: CopsOp,
    private readonly endOffset: number,
  ) {}

  peek(): DecodedObject | undefined {
    return this.objects[this.index];
  }

  /** Takes the next object if it is `kind` (and, for Decision-like objects, of C-Type `cType`). */
  take<K extends CopsObjectKind>(kind: K, cType?: number): ObjectOf<K> | undefined {
    const next = this.objects[this.index];
    if (next === undefined || next.object.kind !== kind) return undefined;
    if (cType !== undefined && next.cType !== cType) return undefined;
    this.index++;
    return next.object as ObjectOf<K>;
  }

  /** Takes a mandatory object; Error 7 when absent from the message, Error 3 when present out of order. */
  need<K extends CopsObjectKind>(kind: K, cType?: number): ObjectOf<K> {
    const taken = this.take(kind, cType);
    if (taken !== undefined) return taken;
    const offset = this.peek()?.offset ?? this.endOffset;
    const elsewhere = this.objects.some((o) => o.object.kind === kind && (cType === undefined || o.cType === cType));
    if (elsewhere) {
      throw new CopsDecodeError("unexpected-object", offset, `${this.op}: ${kind} out of order`, {
        copsErrorCode: { code: ErrorCode.BadMessageFormat, subCode: 0 },
      });
    }
    throw new CopsDecodeError("missing-object", offset, `${this.op}: mandatory ${kind} object missing`, {
      copsErrorCode: { code: ErrorCode.MandatoryObjectMissing, subCode: 0 },
    });
  }

  /** Optional trailing Integrity, then nothing may follow (RFC 2748 §2.2.16: Integrity is last). */
  finish(): IntegrityObject | undefined {
    const integrity = this.take("integrity");
    const extra = this.peek();
    if (extra !== undefined) {
      throw new CopsDecodeError("unexpected-object", extra.offset, `${this.op}: ${extra.object.kind} object not allowed here`, {
        cNum: extra.cNum,
        cType: extra.cType,
        copsErrorCode: { code: ErrorCode.BadMessageFormat, subCode: 0 },
      });
    }
    return integrity;
  }
}

function iface(obj: { family: 4 | 6; address: string; ifIndex: number } | undefined): CopsInterface | undefined {
  return obj === undefined ? undefined : { family: obj.family, address: obj.address, ifIndex: obj.ifIndex };
}
function server(obj: { family: 4 | 6; address: string; port: number } | undefined): CopsServerAddress | undefined {
  return obj === undefined ? undefined : { family: obj.family, address: obj.address, port: obj.port };
}
function clientSi(obj: { cType: 1 | 2; data: Buffer } | undefined): CopsClientSi | undefined {
  return obj === undefined ? undefined : { cType: obj.cType, data: obj.data };
}

function dataOf(obj: CopsObject | undefined): Buffer | undefined {
  return obj !== undefined && "data" in obj && obj.kind !== "client-si" ? obj.data : undefined;
}

/** Decision(s) of a DEC or LPDPDecision(s) of a REQ (RFC 2748 §3.1, §3.2). */
function readDecisions(cursor: ObjectCursor, kind: "decision" | "lpdp-decision", contextRequired: boolean): CopsDecision[] {
  const decisions: CopsDecision[] = [];
  for (;;) {
    const next = cursor.peek();
    if (next === undefined) break;
    const startsGroup = next.object.kind === "context" || (next.object.kind === kind && next.cType === 1);
    if (!startsGroup) break;
    const context = contextRequired ? cursor.need("context") : cursor.take("context");
    const flags = cursor.need(kind, 1);
    const decision: CopsDecision = flags.cType === 1 ? { command: flags.command, flags: flags.flags } : { command: 0, flags: 0 };
    if (context !== undefined) decision.context = { rType: context.rType, mType: context.mType };
    const stateless = dataOf(cursor.take(kind, 2));
    const replacement = dataOf(cursor.take(kind, 3));
    const clientSiData = dataOf(cursor.take(kind, 4));
    const named = dataOf(cursor.take(kind, 5));
    if (stateless) decision.stateless = stateless;
    if (replacement) decision.replacement = replacement;
    if (clientSiData) decision.clientSi = clientSiData;
    if (named) decision.named = named;
    decisions.push(decision);
  }
  return decisions;
}

/** Builds the message model from its objects, checking the §3 grammar of `op`. */
export function objectsToMessage(
  op: CopsOp,
  clientType: number,
  solicited: boolean,
  objects: readonly DecodedObject[],
  endOffset: number,
): CopsMessage {
  const c = new ObjectCursor(objects, op, endOffset);
  let message: CopsMessage;
  switch (op) {
    case "REQ": {
      // <Handle> <Context> [<IN-Int>] [<OUT-Int>] [<ClientSI(s)>] [<LPDPDecision(s)>] [<Integrity>]
      const handle = c.need("handle").handle;
      const ctx = c.need("context");
      const inInterface = iface(c.take("in-interface"));
      const outInterface = iface(c.take("out-interface"));
      const clientSis: CopsClientSi[] = [];
      for (let si = c.take("client-si"); si !== undefined; si = c.take("client-si")) clientSis.push({ cType: si.cType, data: si.data });
      const lpdpDecisions = readDecisions(c, "lpdp-decision", false);
      message = { op, clientType, solicited, handle, context: { rType: ctx.rType, mType: ctx.mType }, clientSi: clientSis, lpdpDecisions };
      if (inInterface) message.inInterface = inInterface;
      if (outInterface) message.outInterface = outInterface;
      break;
    }
    case "DEC": {
      // <Handle> <Decision(s)> | <Error> [<Integrity>]
      const handle = c.need("handle").handle;
      const error = c.take("error");
      if (error !== undefined) {
        message = { op, clientType, solicited, handle, decisions: [], error: { code: error.code, subCode: error.subCode } };
      } else {
        const decisions = readDecisions(c, "decision", true);
        if (decisions.length === 0) c.need("decision", 1);
        message = { op, clientType, solicited, handle, decisions };
      }
      break;
    }
    case "RPT": {
      // <Handle> <Report-Type> [<ClientSI>] [<Integrity>]
      const handle = c.need("handle").handle;
      const reportType = c.need("report-type").reportType;
      message = { op, clientType, solicited, handle, reportType };
      const si = clientSi(c.take("client-si"));
      if (si) message.clientSi = si;
      break;
    }
    case "DRQ": {
      // <Handle> <Reason> [<Integrity>]
      const handle = c.need("handle").handle;
      const reason = c.need("reason");
      message = { op, clientType, solicited, handle, reason: { code: reason.code, subCode: reason.subCode } };
      break;
    }
    case "SSQ":
    case "SSC": {
      // [<Handle>] [<Integrity>]
      const handle = c.take("handle");
      const sync: CopsSyncRequestMessage | CopsSyncCompleteMessage = { op, clientType, solicited };
      if (handle) sync.handle = handle.handle;
      message = sync;
      break;
    }
    case "OPN": {
      // <PEPID> [<ClientSI>] [<LastPDPAddr>] [<Integrity>]
      const pepId = c.need("pepid").id;
      message = { op, clientType, solicited, pepId };
      const si = clientSi(c.take("client-si"));
      if (si) message.clientSi = si;
      const last = server(c.take("last-pdp-address"));
      if (last) message.lastPdpAddress = last;
      break;
    }
    case "CAT": {
      // <KA Timer> [<ACCT Timer>] [<Integrity>]
      const ka = c.need("ka-timer").seconds;
      message = { op, clientType, solicited, kaTimerSeconds: ka };
      const acct = c.take("acct-timer");
      if (acct) message.acctTimerSeconds = acct.seconds;
      break;
    }
    case "CC": {
      // <Error> [<PDPRedirAddr>] [<Integrity>]
      const error = c.need("error");
      message = { op, clientType, solicited, error: { code: error.code, subCode: error.subCode } };
      const redirect = server(c.take("pdp-redirect-address"));
      if (redirect) message.redirect = redirect;
      break;
    }
    case "KA":
      message = { op, clientType, solicited };
      break;
  }
  const integrity = c.finish();
  if (integrity) message.integrity = integrity;
  return message;
}

function decisionObjects(kind: "decision" | "lpdp-decision", d: CopsDecision, out: CopsObject[]): void {
  if (d.context) out.push({ kind: "context", rType: d.context.rType, mType: d.context.mType });
  out.push({ kind, cType: 1, command: d.command, flags: d.flags });
  if (d.stateless) out.push({ kind, cType: 2, data: d.stateless });
  if (d.replacement) out.push({ kind, cType: 3, data: d.replacement });
  if (d.clientSi) out.push({ kind, cType: 4, data: d.clientSi });
  if (d.named) out.push({ kind, cType: 5, data: d.named });
}

/** The objects of a message in §3 order. Throws RangeError for a model the grammar cannot express. */
export function messageToObjects(msg: CopsMessage): CopsObject[] {
  const out: CopsObject[] = [];
  switch (msg.op) {
    case "REQ":
      out.push({ kind: "handle", handle: msg.handle });
      out.push({ kind: "context", rType: msg.context.rType, mType: msg.context.mType });
      if (msg.inInterface) out.push({ kind: "in-interface", family: msg.inInterface.family, address: msg.inInterface.address, ifIndex: msg.inInterface.ifIndex });
      if (msg.outInterface) out.push({ kind: "out-interface", family: msg.outInterface.family, address: msg.outInterface.address, ifIndex: msg.outInterface.ifIndex });
      for (const si of msg.clientSi) out.push({ kind: "client-si", cType: si.cType, data: si.data });
      for (const d of msg.lpdpDecisions) decisionObjects("lpdp-decision", d, out);
      break;
    case "DEC":
      out.push({ kind: "handle", handle: msg.handle });
      if (msg.error) out.push({ kind: "error", code: msg.error.code, subCode: msg.error.subCode });
      else {
        if (msg.decisions.length === 0) throw new RangeError("DEC needs a decision or an error");
        for (const d of msg.decisions) {
          if (!d.context) throw new RangeError("a DEC decision needs its Context");
          decisionObjects("decision", d, out);
        }
      }
      break;
    case "RPT":
      out.push({ kind: "handle", handle: msg.handle });
      out.push({ kind: "report-type", reportType: msg.reportType });
      if (msg.clientSi) out.push({ kind: "client-si", cType: msg.clientSi.cType, data: msg.clientSi.data });
      break;
    case "DRQ":
      out.push({ kind: "handle", handle: msg.handle });
      out.push({ kind: "reason", code: msg.reason.code, subCode: msg.reason.subCode });
      break;
    case "SSQ":
    case "SSC":
      if (msg.handle) out.push({ kind: "handle", handle: msg.handle });
      break;
    case "OPN":
      out.push({ kind: "pepid", id: msg.pepId });
      if (msg.clientSi) out.push({ kind: "client-si", ...msg.clientSi });
      if (msg.lastPdpAddress) out.push({ kind: "last-pdp-address", ...msg.lastPdpAddress });
      break;
    case "CAT":
      out.push({ kind: "ka-timer", seconds: msg.kaTimerSeconds });
      if (msg.acctTimerSeconds !== undefined) out.push({ kind: "acct-timer", seconds: msg.acctTimerSeconds });
      break;
    case "CC":
      out.push({ kind: "error", ...msg.error });
      if (msg.redirect) out.push({ kind: "pdp-redirect-address", ...msg.redirect });
      break;
    case "KA":
      break;
  }
  if (msg.integrity) out.push(msg.integrity);
  return out;
}
