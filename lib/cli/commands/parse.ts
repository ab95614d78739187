// `callgate parse FILE [--stream]`: parse a SIP message file and print it with the typed decoding of each
// header. Datagram mode by default (one message, octets after Content-Length ignored); --stream frames the
// file as a TCP byte stream (Content-Length required, several messages allowed).
import {
  describeHeaders,
  formatSipMessage,
  parseSipMessage,
  SipParseError,
  SipStreamParser,
  type SipMessage,
} from "../../../protocols/sip/index.js";
import { InputFileError, readInputFile } from "../../replay/input-file.js";

const USAGE = `usage: callgate parse FILE [--stream]
  FILE       a SIP message as it travels on the wire (CRLF line ends)
  --stream   frame FILE as a TCP byte stream: Content-Length required, several messages allowed
             (default: one datagram, octets after Content-Length ignored)`;

function printError(file: string, e: SipParseError): void {
  const where = e.header !== undefined ? ` header=${e.header}` : "";
  console.error(`${file}: parse error code=${e.code} offset=${e.offset}${where}: ${e.message}`);
}

export async function run(args: string[]): Promise<number> {
  if (args.includes("--help") || args.includes("-h")) {
    console.log(USAGE);
    return 0;
  }
  const stream = args.includes("--stream");
  const unknown = args.filter((a) => a.startsWith("-") && a !== "--stream");
  const files = args.filter((a) => !a.startsWith("-"));
  if (unknown.length > 0 || files.length !== 1) {
    const reason = unknown.length > 0 ? `unknown option '${unknown[0]}'` : files.length === 0 ? "no FILE given" : `one FILE at a time (given: ${files.join(", ")})`;
    console.error(`callgate parse: ${reason}\n${USAGE}`);
    return 2;
  }
  const file = files[0]!;
  let data: Buffer;
  try {
    data = readInputFile(file);
  } catch (e) {
    if (!(e instanceof InputFileError)) throw e;
    console.error(`callgate parse: ${e.message}`);
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
