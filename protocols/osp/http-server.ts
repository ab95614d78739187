// OSP over HTTP/1.1 server side: POST bodies in, handler's OSP document out, keep-alive.

export interface OspHttpRequestInfo {
  remoteAddress: string;
  remotePort: number;
  contentType: string;
}

export type OspHttpHandler = (body: Buffer, info: OspHttpRequestInfo) => Promise<Buffer>;

export interface OspHttpServerOptions {
  /** Where to listen, e.g. http://127.0.0.1:5045/osp (port 0 picks one). */
  url: string;
  handler: OspHttpHandler;
  tls?: { keyPem: string; certificatePem: string };
}

export interface OspHttpServer {
  /** The URL the server really listens on (port filled in). */
  readonly url: string;
  close(): Promise<void>;
}

export async function startOspHttpServer(_options: OspHttpServerOptions): Promise<OspHttpServer> {
  throw new Error("not implemented yet");
}
