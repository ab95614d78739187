// OSP over HTTP/1.1, server side (TS 101 321 transport): POST bodies in, the handler's OSP document out.
import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import type { ConnectionLimits } from "../net/connection-limits.js";
import { limitHttpServer, type HttpClientRefusal } from "../net/http-limits.js";
import { MAX_OSP_DOCUMENT_BYTES } from "./xml-tree.js";
import { unwrapOspBody } from "./http-body.js";

/** HTTPS (TS 101 321 §5: port 1443): key and certificate; with `requireClientCert`, clients must present a certificate from `caPem`. */
export interface OspHttpsServerTls {
  keyPem: string;
  certificatePem: string;
  /** CA certificate(s) client certificates must chain to (the only ones trusted). */
  caPem?: string;
  requireClientCert?: boolean;
}

/** Where a request came from (address, port) and its Content-Type. */
export interface OspHttpRequestInfo {
  remoteAddress: string;
  remotePort: number;
  contentType: string;
}

/** Answers one OSP document; a thrown error becomes HTTP 500, `status` other than 200 is passed through. */
export type OspHttpHandler = (body: Buffer, info: OspHttpRequestInfo) => Promise<Buffer | { status: number; body: Buffer }>;

/** Address, path, handler, limits and TLS of an OSP HTTP server. */
export interface OspHttpServerOptions {
  /** Where to listen, e.g. http://127.0.0.1:5045/osp (port 0 picks a free one). */
  url: string;
  handler: OspHttpHandler;
  /** Serve HTTPS with this key and certificate (the URL scheme must then be https). */
  tls?: OspHttpsServerTls;
  /** Idle keep-alive time for a connection (default 30 s, or the idle timeout when shorter). */
  keepAliveMs?: number;
  /** Caps and timeouts of inbound connections (DEFAULT_CONNECTION_LIMITS where not given). */
  connectionLimits?: Partial<ConnectionLimits>;
  /**
   * Called for every request or connection refused before the handler saw it: a connection limit
   * (connection-cap, source-cap, idle-timeout), a deadline (header-timeout, body-timeout: 408), a
   * malformed request (bad-request: 400), a body over the OSP size bound (body-too-large: 413), a wrong
   * method (405) or path (404).
   */
  onDrop?: (cause: string, detail: string) => void;
}

/** Bodies larger than this are refused with 413 (an OSP document, possibly MIME-wrapped with a token). */
const MAX_BODY_BYTES = MAX_OSP_DOCUMENT_BYTES * 2;

/** A running OSP HTTP server: its URL and `close()`. */
export interface OspHttpServer {
  /** The URL the server really listens on (port filled in). */
  readonly url: string;
  /** Stops listening and closes every connection. */
  close(): Promise<void>;
}

/** Serves OSP over HTTP(S) (POST), each request answered by the handler. */
export async function startOspHttpServer(options: OspHttpServerOptions): Promise<OspHttpServer> {
  const target = new URL(options.url);
  const secure = target.protocol === "https:";
  if (secure !== Boolean(options.tls)) throw new Error(`OSP server: ${target.protocol} URL ${secure ? "needs" : "cannot use"} tls options`);
  const path = target.pathname || "/";
  const listener: http.RequestListener = (req, res) => {
    if (req.method !== "POST") {
      options.onDrop?.("method-not-allowed", `${req.method ?? "?"} ${req.url ?? ""}`);
      res.writeHead(405, { allow: "POST", "content-length": 0 }).end();
      return;
    }
    if ((req.url ?? "/").split("?")[0] !== path) {
      options.onDrop?.("not-found", req.url ?? "");
      res.writeHead(404, { "content-length": 0 }).end();
      return;
    }
    const tooLarge = (): void => {
      options.onDrop?.("body-too-large", `more than ${MAX_BODY_BYTES} bytes`);
      res.writeHead(413, { connection: "close", "content-length": 0 }).end();
      req.destroy();
    };
    // RFC 9110 §15.5.14: a declared length over the bound is refused before any byte of the body is read.
    if (Number(req.headers["content-length"] ?? 0) > MAX_BODY_BYTES) {
      tooLarge();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        if (!res.headersSent) tooLarge();
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => {
      if (res.headersSent) return;
      const contentType = req.headers["content-type"] ?? "text/plain";
      const info: OspHttpRequestInfo = {
        remoteAddress: req.socket.remoteAddress ?? "",
        remotePort: req.socket.remotePort ?? 0,
        contentType,
      };
      let body: Buffer;
      try {
        body = unwrapOspBody(Buffer.concat(chunks), contentType);
      } catch (err) {
        options.onDrop?.("bad-body", err instanceof Error ? err.message : String(err));
        res.writeHead(400, { "content-type": "text/plain" }).end(err instanceof Error ? err.message : String(err));
        return;
      }
      options.handler(body, info).then(
        (answer) => {
          const { status, body: out } = Buffer.isBuffer(answer) ? { status: 200, body: answer } : answer;
          res.writeHead(status, { "content-type": "text/plain", "content-length": out.length, connection: "keep-alive" }).end(out);
        },
        (err: unknown) => {
          const text = Buffer.from(`OSP handler failed: ${err instanceof Error ? err.message : String(err)}`);
          res.writeHead(500, { "content-type": "text/plain", "content-length": text.length }).end(text);
        },
      );
    });
    req.on("error", () => req.destroy());
  };
  const server: http.Server = options.tls
    ? https.createServer(
        {
          key: options.tls.keyPem,
          cert: options.tls.certificatePem,
          ...(options.tls.caPem ? { ca: options.tls.caPem } : {}),
          requestCert: options.tls.requireClientCert === true,
          rejectUnauthorized: options.tls.requireClientCert === true,
        },
        listener,
      )
    : http.createServer(listener);
  server.keepAliveTimeout = options.keepAliveMs ?? 30_000;
  // A failed or timed-out TLS handshake: node leaves the socket open unless a listener closes it.
  if (options.tls) server.on("tlsClientError", (_err: Error, socket: { destroy(): void }) => socket.destroy());
  limitHttpServer(server, {
    ...(options.connectionLimits ? { limits: options.connectionLimits } : {}),
    onRefuse: (cause, peer) => options.onDrop?.(cause, `${peer.address}:${peer.port}`),
    onClientError: (cause: HttpClientRefusal, detail) => options.onDrop?.(cause, detail),
  });
  const host = target.hostname.replace(/^\[|\]$/g, "");
  const port = target.port === "" ? (secure ? 1443 : 1080) : Number(target.port);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const actual = (server.address() as AddressInfo).port;
  const url = new URL(options.url);
  url.port = String(actual);
  return {
    url: url.toString(),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
