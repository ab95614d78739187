// The clearinghouse (lib/roles/clearinghouse.ts, owned by the OSP layer's author) as a node of a flow network:
// each OSP request delivered to it is answered to its sender. Its core is asynchronous (the CDR store writes
// before UsageConfirmation), so this node returns a promise; drivers wait for it.
import { OspDecodeError, decodeOspMessage, ospMessageCallId, ospMessageLabel, type OspMessage } from "../../protocols/osp/index.js";
import type { FlowNode, NodeAction, NodeEvent } from "../drivers/node.js";
import type { CallEvent } from "../flow/call-events.js";
import type { Clearinghouse } from "./clearinghouse.js";

/** The clearinghouse as a flow node: OSP requests in, answers out, on either driver. */
export class ClearinghouseNode implements FlowNode<CallEvent> {
  /** OSP requests answered. */
  answered = 0;

  constructor(
    readonly name: string,
    readonly clearinghouse: Clearinghouse,
  ) {}

  handle(ev: NodeEvent): NodeAction<CallEvent>[] | Promise<NodeAction<CallEvent>[]> {
    if (ev.type !== "deliver" || ev.proto !== "OSP") return [];
    const from = ev.from;
    let decoded: OspMessage | undefined;
    let callId = ev.callId;
    if (callId === undefined) {
      // From another process no hint comes along: the request's own CallId, read once and handed on decoded
      // (with its bytes, which tell a retransmission from a new request).
      try {
        decoded = decodeOspMessage(ev.bytes);
        callId = ospMessageCallId(decoded);
      } catch (err) {
        if (!(err instanceof OspDecodeError)) throw err; // handle() answers a request it cannot read (TS 101 321 status)
      }
    }
    const call = callId ?? "";
    return this.clearinghouse.handle(ev.bytes, ev.now, from, decoded).then((reply): NodeAction<CallEvent>[] => {
      this.answered++;
      if (!reply.message) return [{ type: "emit", event: { type: "error", callId: call, role: this.name, message: `unreadable OSP request from ${from}` } }];
      return [{ type: "send", proto: "OSP", to: from, bytes: reply.bytes, label: ospMessageLabel(reply.message), callId: call }];
    });
  }
}
