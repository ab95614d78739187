// The clearinghouse behind OSP over HTTP: each POST goes to Clearinghouse.handle with the wall clock.
import { startOspHttpServer, type OspHttpServer, type OspHttpsServerTls } from "../../protocols/osp/index.js";
import type { Clearinghouse } from "./clearinghouse.js";
import type { ConnectionLimits } from "../../protocols/net/connection-limits.js";

export interface ClearinghouseServerOptions {
  url: string;
  /** HTTPS, optionally asking policy servers for a certificate from a pinned CA (mutual TLS). */
  tls?: OspHttpsServerTls;
  /** Clock for handle(); default Date.now. */
  now?: () => number;
  /** Caps and timeouts of the listener (DEFAULT_CONNECTION_LIMITS where not given). */
  connectionLimits?: Partial<ConnectionLimits>;
  /** Every connection or request refused before the clearinghouse saw it (see OspHttpServerOptions.onDrop). */
  onDrop?: (cause: string, detail: string) => void;
}

export function startClearinghouseServer(clearinghouse: Clearinghouse, options: ClearinghouseServerOptions): Promise<OspHttpServer> {
  const now = options.now ?? Date.now;
  return startOspHttpServer({
    url: options.url,
    ...(options.tls ? { tls: options.tls } : {}),
    ...(options.connectionLimits ? { connectionLimits: options.connectionLimits } : {}),
    ...(options.onDrop ? { onDrop: options.onDrop } : {}),
    handler: async (body, info) => {
      const reply = await clearinghouse.handle(body, now(), info.remoteAddress);
      return { status: reply.httpStatus, body: reply.bytes };
    },
  });
}
