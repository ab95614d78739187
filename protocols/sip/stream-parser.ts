// Stream-mode framing (work in progress).
import type { SipMessage } from "./sip-message.js";
import type { SipParseOptions } from "./message-parser.js";

export class SipStreamParser {
  constructor(private readonly opts: SipParseOptions = {}) {}
  push(_chunk: Buffer): SipMessage[] {
    void this.opts;
    return [];
  }
}
