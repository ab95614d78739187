// A lean HTTP/1.1 client for one kind of exchange: POST a body, read the answer (RFC 9112), over a pool of
// keep-alive connections to one server, one request at a time per connection (no pipelining). The socket
// driver carries OSP (TS 101 321) with it; node:http's client costs several objects and streams per request.
// Over TLS (HTTPS, RFC 9110 §4.2.2) when the target carries TLS options.
import { createConnection, type Socket } from "node:net";
import { connect as tlsConnect, type ConnectionOptions } from "node:tls";

export interface PostTarget {
  host: string;
  port: number;
  path: string;
  /** HTTPS: connect with these TLS options (CA, client certificate, identity check). */
  tls?: ConnectionOptions;
}

export interface PostCallbacks {
  /** The connection the request is written on, once connected (its local port is known then). */
  onSocket(sock: Socket): void;
  /** The whole answer. */
  onAnswer(status: number, body: Buffer): void;
  /** No answer: connection refused, reset or closed before the whole answer came. */
  onError(err: Error): void;
}

interface Request {
  bytes: Buffer;
  cb: PostCallbacks;
}

const CRLF2 = Buffer.from("\r\n\r\n", "latin1");

/** Reads one answer after another from a connection's bytes (status line, fields, Content-Length or chunked body). */
export class AnswerReader {
  private buf: Buffer = Buffer.alloc(0);
  private status = 0;
  /** Body bytes still expected; -1 chunked; -2 until the connection closes; undefined while reading the head. */
  private remaining: number | undefined;
  private chunks: Buffer[] = [];
  close = false;

  /** Feeds bytes; returns each whole final answer (1xx interim answers are skipped). Throws on a malformed answer. */
  push(data: Buffer, out: Array<{ status: number; body: Buffer; close: boolean }>): void {
    this.buf = this.buf.length === 0 ? data : Buffer.concat([this.buf, data]);
    for (;;) {
      if (this.remaining === undefined) {
        const end = this.buf.indexOf(CRLF2);
        if (end < 0) {
          if (this.buf.length > 64 * 1024) throw new Error("HTTP answer head too long");
          return;
        }
        this.head(this.buf.toString("latin1", 0, end));
        this.buf = this.buf.subarray(end + 4);
        if (this.status >= 100 && this.status < 200) {
          this.remaining = undefined;
          continue;
        }
      }
      const remaining = this.remaining ?? 0;
      if (remaining === -2) {
        this.chunks.push(this.buf);
        this.buf = Buffer.alloc(0);
        return;
      }
      if (remaining === -1) {
        if (!this.chunk()) return;
      } else {
        if (this.buf.length < remaining) return;
        this.chunks.push(this.buf.subarray(0, remaining));
        this.buf = this.buf.subarray(remaining);
      }
      out.push(this.finish());
    }
  }

  /** The connection closed: an answer delimited by the close is complete now. */
  end(out: Array<{ status: number; body: Buffer; close: boolean }>): void {
    if (this.remaining === -2) out.push(this.finish());
  }

  get idle(): boolean {
    return this.remaining === undefined && this.buf.length === 0;
  }

  private head(text: string): void {
    const lines = text.split("\r\n");
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? "");
    if (!m) throw new Error(`not an HTTP/1.x answer: ${JSON.stringify((lines[0] ?? "").slice(0, 40))}`);
    this.status = Number(m[1]);
    let length: number | undefined;
    let chunked = false;
    let connection = "";
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i] as string;
      const colon = line.indexOf(":");
      if (colon <= 0) throw new Error("malformed HTTP field line");
      const name = line.slice(0, colon).trim().toLowerCase();
      // Only three fields decide the framing: the value of any other is not read.
      if (name !== "content-length" && name !== "transfer-encoding" && name !== "connection") continue;
      const value = line.slice(colon + 1).trim().toLowerCase();
      if (name === "content-length") {
        if (!/^\d{1,9}$/.test(value)) throw new Error("bad Content-Length");
        length = Number(value);
      } else if (name === "transfer-encoding") chunked = value.split(",").map((v) => v.trim()).pop() === "chunked";
      else if (name === "connection") connection = value;
    }
    // RFC 9112 §9.3: HTTP/1.1 persists unless "close"; HTTP/1.0 only with "keep-alive".
    const options = connection.split(",").map((v) => v.trim());
    this.close = options.includes("close") || ((lines[0] ?? "").startsWith("HTTP/1.0") && !options.includes("keep-alive"));
    // RFC 9112 §6.3: 204/304 have no body; chunked wins over Content-Length; otherwise until close.
    if (this.status === 204 || this.status === 304 || (this.status >= 100 && this.status < 200)) this.remaining = 0;
    else if (chunked) this.remaining = -1;
    else if (length !== undefined) this.remaining = length;
    else {
      this.remaining = -2;
      this.close = true;
    }
  }

  /** Consumes chunks (RFC 9112 §7.1); true once the last chunk and the trailer section are in. */
  private chunk(): boolean {
    for (;;) {
      const eol = this.buf.indexOf("\r\n", 0, "latin1");
      if (eol < 0) return false;
      const sizeText = this.buf.toString("latin1", 0, eol).split(";")[0]?.trim() ?? "";
      if (!/^[0-9a-fA-F]{1,8}$/.test(sizeText)) throw new Error("bad chunk size");
      const size = parseInt(sizeText, 16);
      if (size === 0) {
        // The last chunk, then the trailer section: empty ("\r\n") or field lines ending in an empty line.
        if (this.buf.length < eol + 4) return false;
        let end = eol + 4;
        if (this.buf[eol + 2] !== 0x0d || this.buf[eol + 3] !== 0x0a) {
          const blank = this.buf.indexOf(CRLF2, eol);
          if (blank < 0) return false;
          end = blank + 4;
        }
        this.buf = this.buf.subarray(end);
        return true;
      }
      if (this.buf.length < eol + 2 + size + 2) return false;
      this.chunks.push(this.buf.subarray(eol + 2, eol + 2 + size));
      this.buf = this.buf.subarray(eol + 2 + size + 2);
    }
  }

  private finish(): { status: number; body: Buffer; close: boolean } {
    // A copy: the chunks are views into the socket's read buffers, which the body must not keep alive.
    const body = Buffer.concat(this.chunks);
    const answer = { status: this.status, body, close: this.close };
    this.chunks = [];
    this.remaining = undefined;
    return answer;
  }
}

class Connection {
  readonly sock: Socket;
  readonly reader = new AnswerReader();
  connected = false;
  current: Request | undefined;
  dead = false;

  constructor(
    private readonly pool: HttpPostPool,
    target: PostTarget,
    first: Request,
  ) {
    this.current = first;
    this.sock = target.tls ? tlsConnect({ ...target.tls, host: target.host, port: target.port }) : createConnection({ host: target.host, port: target.port });
    this.sock.setNoDelay(true);
    this.sock.on(target.tls ? "secureConnect" : "connect", () => {
      this.connected = true;
      if (this.current) this.write(this.current);
    });
    this.sock.on("data", (data: Buffer) => this.onData(data));
    this.sock.on("error", () => undefined);
    this.sock.on("close", () => this.onClose());
  }

  write(req: Request): void {
    this.current = req;
    req.cb.onSocket(this.sock);
    this.sock.write(req.bytes);
  }

  private onData(data: Buffer): void {
    const answers: Array<{ status: number; body: Buffer; close: boolean }> = [];
    try {
      this.reader.push(data, answers);
    } catch (err) {
      this.fail(err instanceof Error ? err : new Error(String(err)));
      return;
    }
    for (const a of answers) {
      const req = this.current;
      this.current = undefined;
      if (!req) {
        this.fail(new Error("HTTP answer without a request"));
        return;
      }
      req.cb.onAnswer(a.status, a.body);
      if (a.close) {
        this.fail(undefined);
        return;
      }
    }
    if (answers.length > 0 && !this.current) this.pool.idle(this);
  }

  private onClose(): void {
    if (this.dead) return;
    const answers: Array<{ status: number; body: Buffer; close: boolean }> = [];
    this.reader.end(answers);
    const req = this.current;
    this.current = undefined;
    if (req && answers[0]) req.cb.onAnswer(answers[0].status, answers[0].body);
    else if (req) req.cb.onError(new Error("connection closed before the answer"));
    this.dead = true;
    this.pool.gone(this);
  }

  /** Ends the connection; the request on it, if any, gets `err` (or nothing when answered). */
  fail(err: Error | undefined): void {
    if (this.dead) return;
    this.dead = true;
    const req = this.current;
    this.current = undefined;
    this.sock.destroy();
    if (req && err) req.cb.onError(err);
    this.pool.gone(this);
  }
}

export class HttpPostPool {
  private readonly conns = new Set<Connection>();
  private readonly free: Connection[] = [];
  private readonly waiting: Request[] = [];
  private readonly head: string;
  private destroyed = false;

  /** `fields`: extra header field lines, each ending in CRLF (e.g. "Content-Type: text/plain\r\n"). */
  constructor(
    private readonly target: PostTarget,
    private readonly maxSockets: number,
    fields: string,
  ) {
    this.head = `POST ${target.path} HTTP/1.1\r\nHost: ${target.host}:${target.port}\r\n${fields}`;
  }

  post(body: Buffer, cb: PostCallbacks): void {
    if (this.destroyed) {
      cb.onError(new Error("pool destroyed"));
      return;
    }
    const bytes = Buffer.concat([Buffer.from(`${this.head}Content-Length: ${body.length}\r\n\r\n`, "latin1"), body]);
    const req: Request = { bytes, cb };
    let conn = this.free.pop();
    while (conn && conn.dead) conn = this.free.pop();
    if (conn) conn.write(req);
    else if (this.conns.size < this.maxSockets) this.conns.add(new Connection(this, this.target, req));
    else this.waiting.push(req);
  }

  destroy(): void {
    this.destroyed = true;
    for (const c of [...this.conns]) c.fail(undefined);
    this.conns.clear();
    this.free.length = 0;
    this.waiting.length = 0;
  }

  /** @internal A connection finished its request and can take the next. */
  idle(conn: Connection): void {
    const next = this.waiting.shift();
    if (next) conn.write(next);
    else this.free.push(conn);
  }

  /** @internal A connection is gone; a waiting request gets a new one. */
  gone(conn: Connection): void {
    this.conns.delete(conn);
    const i = this.free.indexOf(conn);
    if (i >= 0) this.free.splice(i, 1);
    if (this.destroyed) return;
    const next = this.waiting.shift();
    if (next) this.conns.add(new Connection(this, this.target, next));
  }
}
