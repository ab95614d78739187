// A proxy wired to a recording sender and a virtual clock; every message it sends goes through the codec
// (serialize → parse) so tests see exactly what would be on the wire.
import { parseSipMessage, serializeSipMessage, SipRequest, SipResponse } from "../../../../protocols/sip/index.js";
import { StatefulProxy, type StatefulProxyOptions } from "../../../../protocols/sip/proxy/stateful-proxy.js";
import { VirtualClock } from "../../../../protocols/sip/transaction/transaction-clock.js";
import { TransactionLayer } from "../../../../protocols/sip/transaction/transaction-layer.js";
import type { InboundContext, TransportAddress } from "../../../../protocols/sip/transport/transport-types.js";

export const PROXY: TransportAddress = { protocol: "udp", host: "192.0.2.1", port: 5060 };
export const UAC: TransportAddress = { protocol: "udp", host: "192.0.2.10", port: 5060 };
export const UAS_A: TransportAddress = { protocol: "udp", host: "192.0.2.20", port: 5060 };
export const UAS_B: TransportAddress = { protocol: "udp", host: "192.0.2.30", port: 5060 };

export interface Sent {
  message: SipRequest | SipResponse;
  to: TransportAddress;
}

function wire<T extends SipRequest | SipResponse>(m: T): T {
  return parseSipMessage(serializeSipMessage(m)) as T;
}

export class ProxyHarness {
  readonly clock = new VirtualClock();
  readonly sent: Sent[] = [];
  readonly layer: TransactionLayer;
  readonly proxy: StatefulProxy;
  failDestinations = new Set<string>();

  constructor(options: Partial<StatefulProxyOptions> = {}) {
    this.layer = new TransactionLayer({
      clock: this.clock,
      sender: {
        sendRequest: (request, destination) => {
          if (this.failDestinations.has(destination.host)) return Promise.reject(new Error(`unreachable ${destination.host}`));
          this.sent.push({ message: wire(request), to: destination });
          return Promise.resolve();
        },
        sendResponse: (response, context) => {
          this.sent.push({ message: wire(response), to: context.source });
          return Promise.resolve();
        },
      },
    });
    this.proxy = new StatefulProxy({ transactions: this.layer, identity: { addresses: [PROXY] }, clock: this.clock, ...options });
  }

  /** Delivers a message as if it arrived from `from` over UDP. */
  inject(message: SipRequest | SipResponse | string, from: TransportAddress = UAC): void {
    const m = typeof message === "string" ? parseSipMessage(Buffer.from(message.replace(/\n/g, "\r\n"))) : wire(message);
    const ctx: InboundContext = { source: from, local: PROXY };
    this.layer.receive(m, ctx);
  }

  take(): Sent[] {
    return this.sent.splice(0);
  }

  requestsTo(host: string): SipRequest[] {
    return this.sent.filter((s) => s.to.host === host && s.message instanceof SipRequest).map((s) => s.message as SipRequest);
  }

  responsesTo(host: string): SipResponse[] {
    return this.sent.filter((s) => s.to.host === host && s.message instanceof SipResponse).map((s) => s.message as SipResponse);
  }
}

let n = 0;
export function invite(opts: { maxForwards?: number; extra?: string; method?: string; toTag?: string; uri?: string; branch?: string } = {}): string {
  n++;
  const method = opts.method ?? "INVITE";
  const mf = opts.maxForwards ?? 70;
  return [
    `${method} ${opts.uri ?? "sip:bob@example.com"} SIP/2.0`,
    `Via: SIP/2.0/UDP 192.0.2.10:5060;branch=${opts.branch ?? `z9hG4bKuac${n}`}`,
    `Max-Forwards: ${mf}`,
    `From: Alice <sip:alice@example.com>;tag=a${n}`,
    `To: Bob <sip:bob@example.com>${opts.toTag ? `;tag=${opts.toTag}` : ""}`,
    `Call-ID: c${n}@192.0.2.10`,
    `CSeq: 1 ${method}`,
    `Contact: <sip:alice@192.0.2.10:5060>`,
    ...(opts.extra ? [opts.extra] : []),
    `Content-Length: 0`,
    ``,
    ``,
  ].join("\n");
}

/** A UAS's response to a request it received (copies Via, From, To, Call-ID, CSeq; adds a To tag). */
export function answer(request: SipRequest, status: number, toTag = "uas1", extra: { name: string; value: string }[] = []): SipResponse {
  const headers = request.headers.filter((h) => /^(via|from|call-id|cseq|record-route)$/i.test(h.name)).map((h) => ({ ...h }));
  const to = request.getHeader("To") ?? "";
  headers.push({ name: "To", value: status === 100 || /;tag=/.test(to) ? to : `${to};tag=${toTag}` });
  headers.push(...extra, { name: "Content-Length", value: "0" });
  return new SipResponse(status, "Reason", headers);
}
