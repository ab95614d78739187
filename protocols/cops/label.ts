// Ladder labels of ../reference/wo0135294-flows.yaml for COPS messages ("REQ AAA", "DEC Install", "RPT Success").
import { ClientType, CommandCode, ReportType } from "./constants.js";
import { decodeCopsMessage } from "./cops-codec.js";
import type { CopsMessage } from "./cops-message.js";

const COMMAND: Record<number, string> = { [CommandCode.Null]: "NULL", [CommandCode.Install]: "Install", [CommandCode.Remove]: "Remove" };
const REPORT: Record<number, string> = { [ReportType.Success]: "Success", [ReportType.Failure]: "Failure", [ReportType.Accounting]: "Accounting" };

/** "REQ AAA", "DEC LDP", … made once per M-Type / command / report type instead of per message. */
const REQ_SIP_AAA = ["", "REQ AAA", "REQ LDP", "REQ noLDP"];
const DEC_SIP_AAA = ["", "DEC AAA", "DEC LDP", "DEC noLDP"];
const DEC_COMMAND: Record<number, string> = {};
for (const [code, name] of Object.entries(COMMAND)) DEC_COMMAND[Number(code)] = `DEC ${name}`;
const RPT_TYPE: Record<number, string> = {};
for (const [type, name] of Object.entries(REPORT)) RPT_TYPE[Number(type)] = `RPT ${name}`;

/** Label of a message (or of its encoded bytes) as the reference ladders spell it. */
export function labelCopsMessage(msg: CopsMessage | Buffer): string {
  const m = Buffer.isBuffer(msg) ? decodeCopsMessage(msg) : msg;
  switch (m.op) {
    case "REQ":
      if (m.clientType === ClientType.SipAaa) return REQ_SIP_AAA[m.context.mType] || `REQ M-Type ${m.context.mType}`;
      if (m.context.rType & 0x08) return "REQ Config";
      return "REQ";
    case "DEC": {
      if (m.error) return "DEC Error";
      const d = m.decisions[0];
      if (m.clientType === ClientType.SipAaa && d?.context) return DEC_SIP_AAA[d.context.mType] || `DEC M-Type ${d.context.mType}`;
      return DEC_COMMAND[d?.command ?? -1] ?? `DEC Command ${d?.command}`;
    }
    case "RPT":
      return RPT_TYPE[m.reportType] ?? `RPT Type ${m.reportType}`;
    default:
      return m.op;
  }
}
