// Synthetic record streams for the replay tests: the FIG. 5 / FIG. 6 ladder of one call with real encodings
// built by hand (SIP text per RFC 3261, COPS per RFC 2748 §2, OSP XML per TS 101 321).
import type { MessageRecord } from "../../../lib/drivers/message-record.js";
import { SETUP_FLOW, TEARDOWN_FLOW, type FlowStep } from "../../../lib/replay/reference-flows.js";
import { mirrorRole } from "../../../lib/replay/roles.js";

export interface SyntheticCallOptions {
  callId?: string;
  noClearinghouse?: boolean;
  /** "callee": the teardown is FIG. 6's mirror image (the UAS sends the BYE). */
  hangUp?: "caller" | "callee";
  startMs?: number;
  stepMs?: number;
  /** Add the messages the flows do not count: 100 Trying, COPS KA. */
  withExtras?: boolean;
}

export function syntheticCall(options: SyntheticCallOptions = {}): MessageRecord[] {
  const callId = options.callId ?? "call-1@192.0.2.1";
  const stepMs = options.stepMs ?? 10;
  let t = options.startMs ?? 0;
  const keep = (s: FlowStep): boolean => !(options.noClearinghouse && s.proto === "OSP");
  const teardown = TEARDOWN_FLOW.filter(keep).map((s) =>
    options.hangUp === "callee" ? { ...s, from: mirrorRole(s.from), to: mirrorRole(s.to) } : s,
  );
  const out: MessageRecord[] = [];
  const setup = SETUP_FLOW.filter(keep);
  for (const [k, s] of [...setup, ...teardown].entries()) {
    const method = k < setup.length ? "INVITE" : "BYE";
    out.push({ t, proto: s.proto, from: s.from, to: s.to, msg: s.msg, callId, bytes: encodeFor(s, callId, out.length + 1, method) });
    t += stepMs;
    if (options.withExtras && s.proto === "SIP" && s.msg === "INVITE") {
      out.push({ t, proto: "SIP", from: s.to, to: s.from, msg: "100 Trying", callId, bytes: sipResponse("100 Trying", "INVITE", callId, s.to) });
      t += stepMs;
    }
  }
  if (options.withExtras) out.push({ t, proto: "COPS", from: "SIP1", to: "POL1", msg: "KA", callId, bytes: Buffer.from("1009000000000008", "hex") });
  return out;
}

/** `method`: the request a SIP response answers. */
export function encodeFor(s: { proto: string; msg: string; from: string }, callId: string, handle: number, method = "INVITE"): Buffer {
  if (s.proto === "SIP") return /^\d{3} /.test(s.msg) ? sipResponse(s.msg, method, callId, s.from) : sipRequest(s.msg, callId, s.from);
  if (s.proto === "COPS") return copsMessage(s.msg, handle);
  if (s.proto === "OSP") return Buffer.from(ospXml(s.msg), "utf8");
  return Buffer.alloc(0);
}

// RFC 3261 §7.1 request and §7.2 response, with the mandatory headers of §8.1.1.
export function sipRequest(method: string, callId: string, from: string): Buffer {
  const cseq = method === "BYE" ? 2 : 1;
  const lines = [
    `${method} sip:bob@example.net SIP/2.0`,
    `Via: SIP/2.0/UDP ${from.toLowerCase()}.example.com:5060;branch=z9hG4bK${method.toLowerCase()}${cseq}`,
    "Max-Forwards: 70",
    "From: <sip:alice@example.com>;tag=1928301774",
    method === "INVITE" && cseq === 1 ? "To: <sip:bob@example.net>" : "To: <sip:bob@example.net>;tag=a6c85cf",
    `Call-ID: ${callId}`,
    `CSeq: ${cseq} ${method}`,
    "Contact: <sip:alice@192.0.2.10>",
    "Content-Length: 0",
    "",
    "",
  ];
  return Buffer.from(lines.join("\r\n"), "latin1");
}

export function sipResponse(status: string, method: string, callId: string, from: string): Buffer {
  const lines = [
    `SIP/2.0 ${status}`,
    `Via: SIP/2.0/UDP ${from.toLowerCase()}.example.com:5060;branch=z9hG4bK${method.toLowerCase()}1`,
    "From: <sip:alice@example.com>;tag=1928301774",
    "To: <sip:bob@example.net>;tag=a6c85cf",
    `Call-ID: ${callId}`,
    `CSeq: ${method === "BYE" ? 2 : 1} ${method}`,
    "Content-Length: 0",
    "",
    "",
  ];
  return Buffer.from(lines.join("\r\n"), "latin1");
}

// RFC 2748 §2.1 common header + §2.2 objects: Handle (1/1), Context (2/1), Decision flags (6/1), Report-Type (12/1).
export function copsMessage(label: string, handle: number): Buffer {
  const [op, purpose] = label.split(" ");
  const object = (cNum: number, cType: number, body: Buffer): Buffer => {
    const header = Buffer.alloc(4);
    header.writeUInt16BE(4 + body.length, 0);
    header[2] = cNum;
    header[3] = cType;
    return Buffer.concat([header, body]);
  };
  const u32 = (n: number): Buffer => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n, 0);
    return b;
  };
  const pair = (a: number, b: number): Buffer => {
    const out = Buffer.alloc(4);
    out.writeUInt16BE(a, 0);
    out.writeUInt16BE(b, 2);
    return out;
  };
  const rType = purpose === "AAA" ? 0x01 : purpose === "LDP" || purpose === "noLDP" ? 0x02 : 0x08;
  const objects: Buffer[] = [object(1, 1, u32(handle))];
  let opCode = 1;
  let flags = 0;
  if (op === "REQ") {
    objects.push(object(2, 1, pair(rType, 1)));
  } else if (op === "DEC") {
    opCode = 2;
    flags = 1;
    objects.push(object(2, 1, pair(rType, 1)), object(6, 1, pair(purpose === "Remove" || purpose === "noLDP" ? 2 : 1, 0)));
  } else if (op === "RPT") {
    opCode = 3;
    flags = 1;
    objects.push(object(12, 1, pair(purpose === "Failure" ? 2 : 1, 0)));
  } else if (op === "DRQ") {
    opCode = 4;
    objects.push(object(5, 1, pair(4, 0)));
  }
  const body = Buffer.concat(objects);
  const header = Buffer.alloc(8);
  header[0] = 0x10 | flags;
  header[1] = opCode;
  header.writeUInt16BE(0x8008, 2);
  header.writeUInt32BE(8 + body.length, 4);
  return Buffer.concat([header, body]);
}

export function ospXml(message: string): string {
  return (
    `<?xml version="1.0"?>\n<Message messageId="1" random="4021">` +
    `<${message} componentId="1"><Timestamp>2026-11-21T00:00:00Z</Timestamp>` +
    `<CallId encoding="base64">Y2FsbC0x</CallId><SourceInfo type="e164">4121234567</SourceInfo>` +
    `<DestinationInfo type="e164">4127654321</DestinationInfo></${message}></Message>`
  );
}
