// OSP over HTTP/1.1 (TS 101 321 transport): a keep-alive client with timeouts and a durable usage outbox.
import type { OspMessage, OspSpelling } from "./model.js";

export interface OspClientOptions {
  /** Clearinghouse service point, e.g. http://127.0.0.1:5045/osp or https://…:1443/osp. */
  url: string;
  timeoutMs?: number;
  maxSockets?: number;
  spelling?: OspSpelling;
  /** PEM CA certificates trusted for HTTPS. */
  caPem?: string[];
  /** Journal file of the durable usage outbox; without it reportUsage still retries but only in memory. */
  outboxPath?: string;
}

export class OspClient {
  constructor(readonly options: OspClientOptions) {}
  async request(_message: OspMessage): Promise<OspMessage> {
    throw new Error("not implemented yet");
  }
  async reportUsage(_message: OspMessage): Promise<void> {
    throw new Error("not implemented yet");
  }
  async close(): Promise<void> {}
}
