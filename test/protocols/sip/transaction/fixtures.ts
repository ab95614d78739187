// Test messages for the transaction and proxy tests (example.com / 192.0.2.x hosts only).
import { SipRequest, SipResponse } from "../../../../protocols/sip/codec/sip-message.js";

let counter = 0;

export function makeRequest(method: string, opts: { branch?: string; toTag?: string; cseq?: number; callId?: string } = {}): SipRequest {
  counter++;
  const branch = opts.branch ?? `z9hG4bK-test-${counter}`;
  return new SipRequest(method, "sip:bob@example.com", [
    { name: "Via", value: `SIP/2.0/UDP 192.0.2.10:5060;branch=${branch}` },
    { name: "Max-Forwards", value: "70" },
    { name: "From", value: "Alice <sip:alice@example.com>;tag=a-1" },
    { name: "To", value: `Bob <sip:bob@example.com>${opts.toTag ? `;tag=${opts.toTag}` : ""}` },
    { name: "Call-ID", value: opts.callId ?? `call-${counter}@192.0.2.10` },
    { name: "CSeq", value: `${opts.cseq ?? 1} ${method}` },
    { name: "Contact", value: "<sip:alice@192.0.2.10:5060>" },
    { name: "Content-Length", value: "0" },
  ]);
}

export function makeResponse(request: SipRequest, status: number, toTag = "b-1"): SipResponse {
  const headers = request.headers
    .filter((h) => /^(via|v|from|f|call-id|i|cseq)$/i.test(h.name))
    .map((h) => ({ ...h }));
  const to = request.getHeader("To") ?? "";
  headers.push({ name: "To", value: status === 100 || /;tag=/.test(to) ? to : `${to};tag=${toTag}` });
  headers.push({ name: "Content-Length", value: "0" });
  return new SipResponse(status, status === 100 ? "Trying" : "Reason", headers);
}
