// OSP over HTTP/1.1, client side (TS 101 321 transport): keep-alive pool, per-request timeout, retries with
// the same messageId, and a durable outbox that delivers UsageIndications once the clearinghouse answers.
import http from "node:http";
import https from "node:https";
import { decodeOspMessage, encodeOspMessage } from "./codec.js";
import type { OspAuthorisationResponse, OspMessage, OspSpelling } from "./model.js";
import { UsageOutbox } from "./usage-outbox.js";
import { MAX_OSP_DOCUMENT_BYTES } from "./xml-tree.js";

/** Clearinghouse URL, timeouts and retries, TLS and the usage outbox of an OspClient. */
export interface OspClientOptions {
  /** Clearinghouse service point, e.g. http://127.0.0.1:5045/osp or https://…:1443/osp. */
  url: string;
  /** Per-request timeout (default 5 s). */
  timeoutMs?: number;
  /** Connections kept to the clearinghouse (default 8). */
  maxSockets?: number;
  spelling?: OspSpelling;
  /** PEM CA certificates trusted for HTTPS: when given, the only ones (the clearinghouse's CA pinned). */
  caPem?: string[];
  /** HTTPS client certificate and key (PEM), for a clearinghouse that asks for one (mutual TLS). */
  clientCertificatePem?: string;
  clientKeyPem?: string;
  /** Attempts per request() before giving up (default 3); every attempt carries the same messageId. */
  attempts?: number;
  /** Journal file of the durable usage outbox; without it usage is retried from memory only. */
  outboxPath?: string;
  /** Usage deliveries in flight at once (default 16). */
  usageConcurrency?: number;
  /** Pause between delivery rounds while the clearinghouse is unreachable (default 200 ms). */
  retryDelayMs?: number;
  /** Called when a UsageIndication has been confirmed (status 200). */
  onUsageConfirmed?: (messageId: string, confirmation: OspMessage) => void;
  /** Called when the clearinghouse refuses a UsageIndication for good (4xx status); it leaves the outbox. */
  onUsageRejected?: (messageId: string, answer: OspMessage) => void;
}

/** An HTTP answer that is not an OSP message: its status and body. */
export class OspHttpError extends Error {
  override readonly name = "OspHttpError";
  constructor(
    message: string,
    readonly httpStatus?: number,
  ) {
    super(message);
  }
}

/** Posts OSP messages to a clearinghouse over HTTP(S) and decodes the answers. */
export class OspClient {
  /** Usage delivery counters: attempts (HTTP POSTs), failures (no usable answer), confirmed entries. */
  readonly usageStats = { attempts: 0, failures: 0, confirmed: 0 };
  private readonly target: URL;
  private readonly agent: http.Agent;
  private readonly outbox: UsageOutbox | undefined;
  private readonly memoryOutbox = new Map<string, Buffer>();
  private readonly inFlight = new Set<string>();
  private pumping = false;
  private probing = false;
  private failedRounds = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private drainWaiters: (() => void)[] = [];
  private closed = false;

  constructor(readonly options: OspClientOptions) {
    this.target = new URL(options.url);
    const agentOptions = { keepAlive: true, maxSockets: options.maxSockets ?? 8 };
    if ((options.clientCertificatePem === undefined) !== (options.clientKeyPem === undefined)) throw new Error("OspClient: clientCertificatePem and clientKeyPem go together");
    const clientCertificate = options.clientCertificatePem !== undefined ? { cert: options.clientCertificatePem, key: options.clientKeyPem } : {};
    this.agent = this.target.protocol === "https:" ? new https.Agent({ ...agentOptions, ca: options.caPem, ...clientCertificate }) : new http.Agent(agentOptions);
    if (options.outboxPath) this.outbox = new UsageOutbox(options.outboxPath);
    if (this.pendingUsage() > 0) queueMicrotask(() => this.pump());
  }

  /** POSTs one OSP document and returns the answer body. Throws OspHttpError on timeout, refusal or non-200. */
  post(body: Buffer): Promise<Buffer> {
    const timeoutMs = this.options.timeoutMs ?? 5_000;
    const lib = this.target.protocol === "https:" ? https : http;
    return new Promise((resolve, reject) => {
      const req = lib.request(
        {
          method: "POST",
          hostname: this.target.hostname.replace(/^\[|\]$/g, ""),
          port: this.target.port || (this.target.protocol === "https:" ? 1443 : 1080),
          path: this.target.pathname + this.target.search,
          agent: this.agent,
          headers: { "content-type": "text/plain", "content-length": body.length },
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on("data", (c: Buffer) => {
            size += c.length;
            if (size > MAX_OSP_DOCUMENT_BYTES) req.destroy(new OspHttpError("answer too large"));
            else chunks.push(c);
          });
          res.on("end", () => {
            clearTimeout(timer);
            const out = Buffer.concat(chunks);
            if (res.statusCode !== 200) reject(new OspHttpError(`HTTP ${res.statusCode}: ${out.toString("utf8", 0, 200)}`, res.statusCode));
            else resolve(out);
          });
          res.on("error", (err) => {
            clearTimeout(timer);
            reject(new OspHttpError(`answer broken: ${err.message}`));
          });
        },
      );
      const timer = setTimeout(() => req.destroy(new OspHttpError(`no answer within ${timeoutMs} ms`)), timeoutMs);
      req.on("error", (err) => {
        clearTimeout(timer);
        reject(err instanceof OspHttpError ? err : new OspHttpError(err.message));
      });
      req.end(body);
    });
  }

  /** Sends a request and decodes the answer, retrying transport failures with the same bytes (same messageId). */
  async request(message: OspMessage): Promise<OspMessage> {
    const body = encodeOspMessage(message, { spelling: this.options.spelling });
    const attempts = this.options.attempts ?? 3;
    let lastError: unknown;
    for (let i = 0; i < attempts; i++) {
      try {
        return decodeOspMessage(await this.post(body));
      } catch (err) {
        lastError = err;
        if (!(err instanceof OspHttpError) || (err.httpStatus !== undefined && err.httpStatus < 500)) throw err;
      }
    }
    throw lastError;
  }

  /** AuthorisationRequest → AuthorisationResponse (the first component of the answer). */
  async authorise(message: OspMessage): Promise<OspAuthorisationResponse> {
    const answer = await this.request(message);
    const rsp = answer.components.find((c) => c.kind === "AuthorisationResponse");
    if (!rsp || rsp.kind !== "AuthorisationResponse") throw new OspHttpError(`answer holds no AuthorisationResponse`);
    return rsp;
  }

  /**
   * Spools a UsageIndication message (durably when an outbox file is configured) and delivers it in the
   * background until the clearinghouse confirms it. Resolves once spooled.
   */
  async reportUsage(message: OspMessage): Promise<void> {
    if (this.closed) throw new Error("OspClient closed");
    const body = encodeOspMessage(message, { spelling: this.options.spelling });
    if (this.outbox) await this.outbox.add(message.messageId, body);
    else this.memoryOutbox.set(message.messageId, body);
    this.pump();
  }

  /** UsageIndications spooled and not yet confirmed. */
  pendingUsage(): number {
    return this.outbox ? this.outbox.size : this.memoryOutbox.size;
  }

  /** Resolves when every spooled UsageIndication has been confirmed. */
  drainUsage(): Promise<void> {
    if (this.pendingUsage() === 0) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  private pendingEntries(): { id: string; bytes: Buffer }[] {
    return this.outbox ? this.outbox.pending() : [...this.memoryOutbox].map(([id, bytes]) => ({ id, bytes }));
  }

  /**
   * One delivery round over the spooled entries, `usageConcurrency` at a time. After a failed round the
   * next one sends a single probe first, and the pause between failed rounds doubles up to 8× retryDelayMs,
   * so a clearinghouse that is down costs little; the first success restores full speed.
   */
  private pump(): void {
    if (this.pumping || this.closed) return;
    this.pumping = true;
    const probeRound = this.probing;
    const limit = this.options.usageConcurrency ?? 16;
    const queue = this.pendingEntries().filter((e) => !this.inFlight.has(e.id));
    let nextIndex = 0;
    let failed = false;
    let delivered = 0;
    let active = 0;
    const launch = (): void => {
      // A probe round sends one entry and ends; its success starts a full-speed round.
      const stop = () => failed || this.closed || (probeRound && nextIndex > 0);
      while (!stop() && active < limit && nextIndex < queue.length) {
        const entry = queue[nextIndex++]!;
        active++;
        this.inFlight.add(entry.id);
        const settle = (ok: boolean): void => {
          active--;
          this.inFlight.delete(entry.id);
          if (ok) {
            delivered++;
            this.probing = false;
          } else {
            failed = true;
          }
          launch();
        };
        this.deliver(entry).then(settle, () => settle(false));
      }
      if (active === 0) this.roundDone(failed, delivered);
    };
    launch();
  }

  private roundDone(failed: boolean, delivered: number): void {
    this.pumping = false;
    if (this.closed) return;
    if (this.pendingUsage() === 0) {
      const waiters = this.drainWaiters;
      this.drainWaiters = [];
      for (const w of waiters) w();
      return;
    }
    if (failed) {
      const base = this.options.retryDelayMs ?? 200;
      this.failedRounds = delivered > 0 ? 1 : this.failedRounds + 1;
      this.probing = true;
      clearTimeout(this.retryTimer);
      this.retryTimer = setTimeout(() => this.pump(), base * Math.min(8, 2 ** (this.failedRounds - 1)));
    } else {
      this.failedRounds = 0;
      this.pump();
    }
  }

  private async deliver(entry: { id: string; bytes: Buffer }): Promise<boolean> {
    let answer: OspMessage;
    this.usageStats.attempts++;
    try {
      answer = decodeOspMessage(await this.post(entry.bytes));
    } catch {
      this.usageStats.failures++;
      return false;
    }
    const confirmations = answer.components.filter((c) => c.kind === "UsageConfirmation");
    const codes = confirmations.map((c) => (c.kind === "UsageConfirmation" ? c.status.code : 0));
    const allOk = codes.length > 0 && codes.every((code) => code === 200);
    const refused = codes.some((code) => code >= 400 && code < 500);
    if (!allOk && !refused) {
      this.usageStats.failures++;
      return false;
    }
    if (allOk) this.usageStats.confirmed++;
    if (this.outbox) this.outbox.markDelivered(entry.id);
    else this.memoryOutbox.delete(entry.id);
    if (allOk) this.options.onUsageConfirmed?.(entry.id, answer);
    else this.options.onUsageRejected?.(entry.id, answer);
    return true;
  }

  /** Closes the keep-alive connections and the usage outbox. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.agent.destroy();
    this.outbox?.close();
  }
}
