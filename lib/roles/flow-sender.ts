// Which party sends a classifier's flow, from the media ends the parties' SDP named. The flows of REQ AAA come
// from the initial INVITE's offer alone (RFC 3264 §5: the caller's), so the end they name is the caller's and
// the other end is 0.0.0.0:0; a flow of a later REQ LDP (offer and answer) runs from a known end of one party
// or to a known end of the other, and teaches this call the ends it did not know (a re-INVITE that moved one).
import type { SipAaaMediaFlow } from "../../protocols/cops/index.js";

/** The sender of a flow: the caller, the callee, or unknown (neither end was named before). */
export type FlowSender = "caller" | "callee" | undefined;

/** The media ends ("address:port") each party of one call is known to send and receive on. */
export interface PartyEnds {
  caller: string[];
  callee: string[];
}

/** The end a flow without an answer has on the answerer's side (lib/flow/media-flows.ts). */
const NO_END = "0.0.0.0:0";

const srcEnd = (f: SipAaaMediaFlow): string => `${f.srcAddress}:${f.srcPort}`;
const dstEnd = (f: SipAaaMediaFlow): string => `${f.dstAddress}:${f.dstPort}`;

function learn(list: string[], end: string): void {
  if (end !== NO_END && !list.includes(end)) list.push(end);
}

/** The caller's ends from the flows of a REQ AAA: the offer's end of each flow whose other end is unanswered. */
export function learnOfferEnds(ends: PartyEnds, flows: readonly SipAaaMediaFlow[]): void {
  for (const f of flows) {
    const src = srcEnd(f);
    const dst = dstEnd(f);
    if (dst === NO_END) learn(ends.caller, src);
    else if (src === NO_END) learn(ends.caller, dst);
  }
}

/** Who sends `f`, by the ends known so far; a flow placed learns the ends it names. */
export function flowSender(ends: PartyEnds, f: SipAaaMediaFlow): FlowSender {
  const src = srcEnd(f);
  const dst = dstEnd(f);
  let sender: FlowSender;
  if (ends.caller.includes(src) || ends.callee.includes(dst)) sender = "caller";
  else if (ends.callee.includes(src) || ends.caller.includes(dst)) sender = "callee";
  if (sender === "caller") {
    learn(ends.caller, src);
    learn(ends.callee, dst);
  } else if (sender === "callee") {
    learn(ends.callee, src);
    learn(ends.caller, dst);
  }
  return sender;
}
