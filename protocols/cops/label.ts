// Ladder labels of ../reference/wo0135294-flows.yaml for COPS messages ("REQ AAA", "DEC Install", "RPT Success").
import { ClientType, CommandCode, ReportType } from "./constants.js";
import { decodeCopsMessage } from "./cops-codec.js";
import type { CopsMessage } from "./cops-message.js";

const SIP_AAA_PURPOSE: Record<number, string> = { 1: "AAA", 2: "LDP", 3: "noLDP" };
const COMMAND: Record<number, string> = { [CommandCode.Null]: "NULL", [CommandCode.Install]: "Install", [CommandCode.Remove]: "Remove" };
const REPORT: Record<number, string> = { [ReportType.Success]: "Success", [ReportType.Failure]: "Failure", [ReportType.Accounting]: "Accounting" };

/** Label of a message (or of its encoded bytes) as the reference ladders spell it. */
export function labelCopsMessage(msg: CopsMessage | Buffer): string {
  const m = Buffer.isBuffer(msg) ? decodeCopsMessage(msg) : msg;
  switch (m.op) {
    case "REQ":
      if (m.clientType === ClientType.SipAaa) return `REQ ${SIP_AAA_PURPOSE[m.context.mType] ?? `M-Type ${m.context.mType}`}`;
      if (m.context.rType & 0x08) return "REQ Config";
      return "REQ";
    case "DEC": {
      if (m.error) return "DEC Error";
      const d = m.decisions[0];
      if (m.clientType === ClientType.SipAaa && d?.context) return `DEC ${SIP_AAA_PURPOSE[d.context.mType] ?? `M-Type ${d.context.mType}`}`;
      return `DEC ${COMMAND[d?.command ?? -1] ?? `Command ${d?.command}`}`;
    }
    case "RPT":
      return `RPT ${REPORT[m.reportType] ?? `Type ${m.reportType}`}`;
    default:
      return m.op;
  }
}
