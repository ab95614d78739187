// The connection limits on a node:http(s) server: caps and idle timeout through ConnectionGate, the head and
// body deadlines through node's own headersTimeout / requestTimeout (answered 408, RFC 9110 §15.5.9), and a
// malformed request answered 400 (431 for oversized headers, RFC 6585 §5) instead of node's silent defaults.
import type { Server as HttpServer, IncomingMessage, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { ConnectionGate, type ConnectionLimits, type RefusalListener } from "./connection-limits.js";

/** A request refused before any handler saw it, and why. */
export type HttpClientRefusal = "header-timeout" | "body-timeout" | "bad-request" | "headers-too-large";

export interface HttpLimitOptions {
  limits?: Partial<ConnectionLimits>;
  /** Connections the gate closed (caps, idle timeout). */
  onRefuse?: RefusalListener;
  /** Requests refused by node's parser or deadlines. */
  onClientError?: (cause: HttpClientRefusal, detail: string) => void;
}

/** How often node checks the deadlines: a tenth of the shortest, within [50 ms, 1 s] (node's default is 30 s). */
function deadlineCheckInterval(limits: ConnectionLimits): number {
  const ms = [limits.headerTimeoutMs, limits.bodyTimeoutMs].filter((x) => x > 0);
  return ms.length === 0 ? 1000 : Math.min(1000, Math.max(50, Math.floor(Math.min(...ms) / 10)));
}

/** Applies the limits to `server`, before it listens (node starts its deadline checks on "listening"). Returns the gate. */
export function limitHttpServer(server: HttpServer, options: HttpLimitOptions = {}): ConnectionGate {
  const gate = new ConnectionGate(options.limits, options.onRefuse);
  gate.attach(server);
  const { headerTimeoutMs, bodyTimeoutMs } = gate.limits;
  // A public property node reads when the server starts listening (not in @types/node's Server type).
  (server as HttpServer & { connectionsCheckingInterval: number }).connectionsCheckingInterval = deadlineCheckInterval(gate.limits);
  server.headersTimeout = headerTimeoutMs;
  server.requestTimeout = headerTimeoutMs > 0 && bodyTimeoutMs > 0 ? headerTimeoutMs + bodyTimeoutMs : 0;
  // The keep-alive wait between requests is the idle timeout when shorter than node's 5 s default.
  if (gate.limits.idleTimeoutMs > 0 && gate.limits.idleTimeoutMs < server.keepAliveTimeout) server.keepAliveTimeout = gate.limits.idleTimeoutMs;
  // The body deadline counts from the end of the head (node's requestTimeout, head + body, stays the backstop).
  if (bodyTimeoutMs > 0) {
    server.on("request", (req: IncomingMessage, res: ServerResponse) => {
      if (req.complete) return;
      const timer = setTimeout(() => {
        if (req.complete || res.headersSent) return;
        options.onClientError?.("body-timeout", `body not whole ${bodyTimeoutMs} ms after the head`);
        res.writeHead(408, { connection: "close", "content-length": 0 }).end();
        req.socket.end();
        setTimeout(() => req.socket.destroy(), 1000).unref();
      }, bodyTimeoutMs);
      timer.unref();
      const clear = (): void => clearTimeout(timer);
      req.once("end", clear);
      req.once("close", clear);
    });
  }
  server.on("clientError", (err: NodeJS.ErrnoException, socket: Socket) => {
    const code = err.code ?? "";
    if (code === "ECONNRESET" || !socket.writable) {
      socket.destroy();
      return;
    }
    // A response object exists once the head was parsed: then it was the body that came too slowly.
    const headParsed = (socket as Socket & { _httpMessage?: unknown })._httpMessage != null;
    const [cause, status]: [HttpClientRefusal, string] =
      code === "ERR_HTTP_REQUEST_TIMEOUT"
        ? [headParsed ? "body-timeout" : "header-timeout", "408 Request Timeout"]
        : code === "HPE_HEADER_OVERFLOW"
          ? ["headers-too-large", "431 Request Header Fields Too Large"]
          : ["bad-request", "400 Bad Request"];
    options.onClientError?.(cause, `${code}: ${err.message}`);
    socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    setTimeout(() => socket.destroy(), 1000).unref();
  });
  return gate;
}
