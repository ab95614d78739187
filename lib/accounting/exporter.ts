// RADIUS accounting export (RFC 2866): records accepted into a disk spool, sent with the RADIUS client machine
// (retransmissions keep Identifier and authenticator, RFC 5080 §2.2.1) until a server answers; a server that
// stays silent is skipped for a while and the next one is tried (failover). Socket and timer are the one RADIUS
// client driver's (RadiusClientSocket); the failover's wake-up is its owner's hook.
import { isIPv6 } from "node:net";
import { performance } from "node:perf_hooks";
import type { Socket } from "node:dgram";
import {
  RadiusClientSocket,
  RadiusCode,
  bindRadiusSocket,
  radiusAttribute,
  type RadiusClientAction,
  type RadiusEndpoint,
} from "../../protocols/radius/index.js";
import { toRadiusAttribute, type AccountingRecord } from "./records.js";
import { AccountingSpool, type SpooledRecord } from "./spool.js";

/** Spool file, servers, secret, window, retransmission timers and failover of an AccountingExporter. */
export interface AccountingExporterOptions {
  /** The spool file (created if absent; what an earlier process left in it is sent first). */
  spoolPath: string;
  /** Accounting servers in order of preference: the first that answers gets the records. */
  servers: RadiusEndpoint[];
  secret: string | Buffer;
  /** Local address to send from (default 0.0.0.0, or :: for IPv6 servers). */
  bindAddress?: string;
  /** Requests in flight at once (default 64, at most 256: one Identifier space per server). */
  window?: number;
  /** RFC 5080 §2.2.1 timers of one server attempt (defaults 1 s, 4 s, 3 retransmissions, 10 s). */
  initialTimeoutMs?: number;
  maxTimeoutMs?: number;
  maxRetransmissions?: number;
  maxDurationMs?: number;
  /** How long a server that did not answer is passed over (default 5 s). */
  serverRetryMs?: number;
  /** A datagram dropped (malformed, bad authenticator, unknown Identifier…), by cause. */
  onDrop?: (cause: string, from: RadiusEndpoint) => void;
  /** A server stopped answering (`down`) or answered again (`up`). */
  onServer?: (server: RadiusEndpoint, state: "down" | "up") => void;
  /**
   * Answered keys remembered so that a record submitted again is refused (default 100,000; the oldest are
   * forgotten first). Memory and the spool stay bounded however long the exporter runs.
   */
  answeredKeysKept?: number;
  /** The spool is rewritten with only what is still needed after this many appended lines (default 100,000). */
  compactAfterLines?: number;
}

interface Pending extends SpooledRecord {
  /** Client-machine handle while a request for it is in flight. */
  handle: number | undefined;
  server: string | undefined;
}

const endpointText = (e: RadiusEndpoint): string => (isIPv6(e.address) ? `[${e.address}]:${e.port}` : `${e.address}:${e.port}`);

/** `udp:HOST:PORT` (port 1813 when absent, RFC 2866 §3); IPv6 in brackets. */
export function parseAccountingServer(text: string): RadiusEndpoint {
  const m = /^udp:(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+))(?::(\d{1,5}))?$/.exec(text);
  if (!m) throw new Error(`'${text}' is not udp:HOST:PORT`);
  const port = m[3] === undefined ? 1813 : Number(m[3]);
  if (port < 1 || port > 65535) throw new Error(`'${text}': port ${port} is outside 1-65535`);
  return { address: (m[1] ?? m[2])!, port };
}

/** Exports accounting records over RADIUS (RFC 2866) from a disk spool, with retransmission and failover. */
export class AccountingExporter {
  private readonly client: RadiusClientSocket;
  private readonly pending = new Map<string, Pending>();
  private readonly byHandle = new Map<number, Pending>();
  private readonly answeredKeys: Set<string>;
  private readonly downUntil = new Map<string, number>();
  private readonly window: number;
  private readonly drainWaiters = new Set<() => void>();
  private readonly syncTimer: NodeJS.Timeout;
  private closed = false;
  /** Records answered by a server since this exporter opened. */
  answered = 0;
  /** Records (and re-submissions of a key already spooled or answered) this exporter was given. */
  submitted = 0;
  duplicatesRefused = 0;
  readonly drops = new Map<string, number>();

  private constructor(
    private readonly opts: AccountingExporterOptions,
    socket: Socket,
    private readonly spool: AccountingSpool,
    recovered: SpooledRecord[],
    answered: Set<string>,
  ) {
    this.window = Math.min(256, Math.max(1, opts.window ?? 64));
    this.client = new RadiusClientSocket(socket, {
      secret: opts.secret,
      initialTimeoutMs: opts.initialTimeoutMs ?? 1000,
      maxTimeoutMs: opts.maxTimeoutMs ?? 4000,
      maxRetransmissions: opts.maxRetransmissions ?? 3,
      maxDurationMs: opts.maxDurationMs ?? 10_000,
      maxOutstandingPerServer: this.window,
    }, {
      onActions: (actions) => this.run(actions),
      nextWake: () => this.serverRetryAt(),
      onWake: () => this.pump(),
    });
    this.answeredKeys = answered;
    this.forgetOldAnswers();
    this.syncTimer = setInterval(() => this.spool.sync(), 200);
    this.syncTimer.unref();
    // What the last process had sent goes again as the same bytes from the same port; the rest as new requests.
    const now = performance.now();
    for (const r of recovered) {
      const p: Pending = { ...r, handle: undefined, server: undefined };
      this.pending.set(r.record.key, p);
      const to = r.lastSent ? opts.servers.find((s) => endpointText(s) === r.lastSent!.to) : undefined;
      const again = to && r.lastSent ? this.client.machine.resend(now, to, r.lastSent.datagram) : undefined;
      if (again) {
        p.handle = again.handle;
        p.server = r.lastSent!.to;
        this.byHandle.set(again.handle, p);
        this.client.apply(again.actions);
      }
    }
    this.pump();
  }

  /** Opens the spool (recovering what an earlier process left unanswered) and the socket. */
  static async open(opts: AccountingExporterOptions): Promise<AccountingExporter> {
    if (opts.servers.length === 0) throw new Error("accounting export needs at least one server");
    const state = AccountingSpool.recover(opts.spoolPath);
    const address = opts.bindAddress ?? (isIPv6(opts.servers[0]!.address) ? "::" : "0.0.0.0");
    let socket: Socket | undefined;
    if (state.localPort !== undefined && state.pending.some((p) => p.lastSent)) socket = await bindRadiusSocket(address, state.localPort).catch(() => undefined);
    socket ??= await bindRadiusSocket(address, 0);
    const spool = AccountingSpool.open(opts.spoolPath, state, socket.address().port);
    return new AccountingExporter(opts, socket, spool, state.pending, state.answered);
  }

  /** Answered keys beyond `answeredKeysKept` are forgotten, oldest first (a Set keeps insertion order). */
  private forgetOldAnswers(): void {
    let excess = this.answeredKeys.size - (this.opts.answeredKeysKept ?? 100_000);
    for (const key of this.answeredKeys) {
      if (excess-- <= 0) break;
      this.answeredKeys.delete(key);
    }
  }

  private compactSpool(): void {
    const pending = [...this.pending.values()].map((p) => ({ record: p.record, lastSent: p.lastSent }));
    this.spool.compact({ localPort: this.localPort, pending, answered: this.answeredKeys, badLines: 0 }, this.localPort);
  }

  /** Answered keys remembered for refusing a record submitted again. */
  get answeredKeysHeld(): number {
    return this.answeredKeys.size;
  }

  /** Whether a record of this key is spooled or (among the answered keys kept) answered: submitted again, it is refused. */
  holds(key: string): boolean {
    return this.pending.has(key) || this.answeredKeys.has(key);
  }

  /** Records spooled and not answered yet. */
  get backlog(): number {
    return this.pending.size;
  }

  get localPort(): number {
    return this.client.localPort;
  }

  /**
   * Accepts records: on disk (fsynced) when this returns, then sent. A key already spooled or answered is one
   * record and is not taken again. Returns how many were new.
   */
  submit(records: AccountingRecord[]): number {
    if (this.closed) throw new Error("accounting exporter closed");
    const fresh: AccountingRecord[] = [];
    const seen = new Set<string>();
    for (const r of records) {
      this.submitted++;
      if (this.pending.has(r.key) || this.answeredKeys.has(r.key) || seen.has(r.key)) {
        this.duplicatesRefused++;
        continue;
      }
      seen.add(r.key);
      fresh.push(r);
    }
    this.spool.accept(fresh);
    for (const record of fresh) this.pending.set(record.key, { record, lastSent: undefined, handle: undefined, server: undefined });
    this.pump();
    return fresh.length;
  }

  /** Resolves true once every spooled record is answered, false when `timeoutMs` passes first. */
  drained(timeoutMs = Infinity): Promise<boolean> {
    if (this.pending.size === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const done = (): void => {
        if (timer) clearTimeout(timer);
        this.drainWaiters.delete(done);
        resolve(true);
      };
      this.drainWaiters.add(done);
      if (Number.isFinite(timeoutMs))
        timer = setTimeout(() => {
          this.drainWaiters.delete(done);
          resolve(false);
        }, timeoutMs);
    });
  }

  private serverFor(now: number): RadiusEndpoint | undefined {
    for (const s of this.opts.servers) if ((this.downUntil.get(endpointText(s)) ?? 0) <= now) return s;
    return undefined;
  }

  /** Sends what the window allows, oldest records first. */
  private pump(): void {
    if (this.closed) return;
    const now = performance.now();
    let inFlight = this.byHandle.size;
    for (const p of this.pending.values()) {
      if (inFlight >= this.window) break;
      if (p.handle !== undefined) continue;
      const to = this.serverFor(now);
      if (!to) break;
      const delayS = Math.max(0, Math.floor((Date.now() - p.record.eventMs) / 1000));
      // RFC 2866 §5.2: a new request (new Identifier) carries the delay so far; its retransmissions keep it.
      const attributes = p.record.attributes.map(toRadiusAttribute);
      attributes.push(radiusAttribute("Acct-Delay-Time", delayS));
      const { handle, actions } = this.client.machine.send(now, to, { code: RadiusCode.AccountingRequest, attributes });
      p.handle = handle;
      p.server = endpointText(to);
      this.byHandle.set(handle, p);
      inFlight++;
      this.client.apply(actions);
    }
    this.client.schedule();
  }

  /** The machine's actions, before their datagrams leave: a request's bytes are spooled before they are sent. */
  private run(actions: RadiusClientAction[]): void {
    for (const a of actions) {
      switch (a.type) {
        case "send": {
          const p = a.handle !== undefined ? this.byHandle.get(a.handle) : undefined;
          if (p && p.lastSent?.datagram !== a.datagram) {
            p.lastSent = { to: endpointText(a.to), datagram: a.datagram };
            // Without this line a restarted exporter sends the record as a new request: a server may keep it twice.
            this.spoolNote(() => this.spool.sent(p.record.key, p.lastSent!.to, a.datagram));
          }
          break;
        }
        case "response": {
          const p = this.byHandle.get(a.handle);
          this.byHandle.delete(a.handle);
          if (!p) break;
          const server = endpointText(a.from);
          if (this.downUntil.delete(server)) this.opts.onServer?.(a.from, "up");
          // Without this line a restarted exporter sends the answered record again.
          this.spoolNote(() => this.spool.answered(p.record.key));
          this.pending.delete(p.record.key);
          this.answeredKeys.add(p.record.key);
          this.answered++;
          this.forgetOldAnswers();
          if (this.spool.appendedLines >= (this.opts.compactAfterLines ?? 100_000)) this.spoolNote(() => this.compactSpool());
          break;
        }
        case "timeout": {
          const p = this.byHandle.get(a.handle);
          this.byHandle.delete(a.handle);
          if (!p) break;
          p.handle = undefined;
          const server = p.server!;
          if ((this.downUntil.get(server) ?? 0) <= performance.now()) {
            const ep = this.opts.servers.find((s) => endpointText(s) === server);
            if (ep) this.opts.onServer?.(ep, "down");
          }
          this.downUntil.set(server, performance.now() + (this.opts.serverRetryMs ?? 5000));
          break;
        }
        case "queue-full":
          break;
        case "drop":
          this.drops.set(a.cause, (this.drops.get(a.cause) ?? 0) + 1);
          this.opts.onDrop?.(a.cause, a.from);
          break;
      }
    }
    if (actions.some((a) => a.type !== "send")) {
      if (this.pending.size === 0) for (const w of [...this.drainWaiters]) w();
      queueMicrotask(() => this.pump());
    }
  }

  /** A sent or answered line the spool could not take (a full disk) is counted; the record itself stays spooled. */
  private spoolNote(write: () => void): void {
    try {
      write();
    } catch {
      this.drops.set("spool-write-failed", (this.drops.get("spool-write-failed") ?? 0) + 1);
    }
  }

  /** Failover: when a server passed over may be tried again, while records wait and the window has room. */
  private serverRetryAt(): number | undefined {
    if (this.downUntil.size === 0 || this.byHandle.size >= this.window) return undefined;
    let waiting = false;
    for (const p of this.pending.values())
      if (p.handle === undefined) {
        waiting = true;
        break;
      }
    if (!waiting) return undefined;
    let next: number | undefined;
    for (const t of this.downUntil.values()) if (next === undefined || t < next) next = t;
    return next;
  }

  /** Stops sending and closes the socket; unsent records stay in the spool. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.syncTimer);
    this.spool.close();
    await this.client.close();
  }
}
