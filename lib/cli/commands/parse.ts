// `callgate parse FILE [--stream]`: parse a SIP message file and print it with the typed decoding of each
// header. Datagram mode by default (one message, octets after Content-Length ignored); --stream frames the
// file as a TCP byte stream (Content-Length required, several messages allowed).
import { readFileSync } from "node:fs";
import {
  describeHeaders,
  formatSipMessage,
  parseSipMessage,
  SipParseError,
  SipStreamParser,
  type SipMessage,
} from "../../../protocols/sip/index.js";

const USAGE = "usage: callgate parse FILE [--stream]";

function printError(file: string, e: SipParseError): void {
  const where = e.header !== undefined ? ` header=${e.header}` : "";
  console.error(`${file}: parse error code=${e.code} offset=${e.offset}${where}: ${e.message}`);
}

export async function run(args: string[]): Promise<number> {
  const stream = args.includes("--stream");
  const files = args.filter((a) => a !== "--stream");
  if (files.length !== 1 || files[0]!.startsWith("-")) {
    console.error(USAGE);
    return 2;
  }
  const file = files[0]!;
  let data: Buffer;
  try {
    data = readFileSync(file);
  } catch (e) {
    console.error(`${file}: ${e instanceof Error ? e.message : String(e)}`);
    return 2;
  }
  let messages: SipMessage[];
  try {
    if (stream) {
      const parser = new SipStreamParser();
      messages = parser.push(data);
      if (parser.bufferedBytes > 0) {
        throw new SipParseError("body-too-short", `${parser.bufferedBytes} bytes of an incomplete message at end of file`, data.length - parser.bufferedBytes);
      }
    } else {
      messages = [parseSipMessage(data)];
    }
  } catch (e) {
    if (e instanceof SipParseError) {
      printError(file, e);
      return 1;
    }
    throw e;
  }
  let failed = false;
  messages.forEach((m, i) => {
    if (messages.length > 1) console.log(`--- message ${i + 1} of ${messages.length}`);
    console.log(formatSipMessage(m));
    for (const d of describeHeaders(m)) if (d.error !== undefined) failed = true;
  });
  if (failed) {
    console.error(`${file}: one or more headers failed typed decoding (marked '!')`);
    return 1;
  }
  return 0;
}
