// The clearinghouse behind OSP over HTTP: each POST goes to Clearinghouse.handle with the wall clock.
import { startOspHttpServer, type OspHttpServer, type OspHttpsServerTls } from "../../protocols/osp/index.js";
import type { Clearinghouse } from "./clearinghouse.js";

export interface ClearinghouseServerOptions {
  url: string;
  /** HTTPS, optionally asking policy servers for a certificate from a pinned CA (mutual TLS). */
  tls?: OspHttpsServerTls;
  /** Clock for handle(); default Date.now. */
  now?: () => number;
}

export function startClearinghouseServer(clearinghouse: Clearinghouse, options: ClearinghouseServerOptions): Promise<OspHttpServer> {
  const now = options.now ?? Date.now;
  return startOspHttpServer({
    url: options.url,
    ...(options.tls ? { tls: options.tls } : {}),
    handler: async (body, info) => {
      const reply = await clearinghouse.handle(body, now(), info.remoteAddress);
      return { status: reply.httpStatus, body: reply.bytes };
    },
  });
}
