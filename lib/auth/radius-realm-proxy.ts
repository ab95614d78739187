// The RADIUS proxy's driver: two UDP listeners (authentication, accounting) whose server machines answer
// retransmissions from their cache, one UDP client towards the master's and the client providers' servers,
// one accounting exporter (fsynced spool) per accounting destination, and the journal file. It runs the
// RealmProxy machine's actions and nothing else decides here.
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Logger } from "pino";
import { RadiusUdpClient, RadiusUdpServer, type RadiusEndpoint, type RadiusPacket, type RadiusReply } from "../../protocols/radius/index.js";
import { DurableAppendFile } from "../accounting/durable-append.js";
import { AccountingExporter } from "../accounting/exporter.js";
import type { AccountingRecord } from "../accounting/records.js";
import type { DropLog } from "../observability/drop-log.js";
import type { JournalEvent } from "./capacity-ledger.js";
import { CapacityLedger } from "./capacity-ledger.js";
import type { CredentialStore } from "./credential-store.js";
import { RealmProxy, type AccountingDestination, type MasterRecord, type RealmDecision, type RealmProxyAction } from "./realm-proxy.js";
import type { RadiusProxyConfig, RadiusServerRef } from "./realm-table.js";

/** Configuration, local credentials, logger and drop log of a RadiusRealmProxy. */
export interface RadiusRealmProxyOptions {
  config: RadiusProxyConfig;
  credentials?: CredentialStore;
  logger?: Logger;
  drops?: DropLog;
  /** Every decision, e.g. for metrics. */
  onDecision?: (decision: RealmDecision, provider: string) => void;
  /** Upstream timers (RFC 5080 §2.2.1); the defaults suit a NAS that retries after 3 s or more. */
  upstreamTimeoutMs?: number;
  upstreamRetransmissions?: number;
  /**
   * Where the accounting spools are kept: `PREFIX.acct-master.spool` and `PREFIX.acct-client-NAME.spool`
   * (default: the journal's path; without a journal, a new temporary directory, which a restart does not find).
   */
  spoolPrefix?: string;
  /** How long an accounting server that did not answer is passed over before its records are tried again (default 5 s). */
  accountingRetryMs?: number;
  /**
   * Records a destination may hold unanswered (default 100,000): past it, a request whose record would be one more
   * is not answered (counted), so a NAS that floods while a server is away keeps its records rather than filling
   * this disk, and sends them again later (RFC 2866 §2).
   */
  accountingBacklogLimit?: number;
}

/** The spool file of an accounting destination. */
export function accountingSpoolPath(prefix: string, destination: AccountingDestination): string {
  return destination.kind === "master" ? `${prefix}.acct-master.spool` : `${prefix}.acct-client-${encodeURIComponent(destination.name)}.spool`;
}

/** How logs, drops and gauges name a destination; a client provider named "master" stays apart from the master. */
const destinationName = (d: AccountingDestination): string => (d.kind === "master" ? "master" : `client ${d.name}`);

/**
 * Append-only JSON lines, each fsynced before the action that depends on it (RFC 2866 §2: stored, then answered),
 * and never rewritten. It is no journal of open sessions (OpenSessionJournal, as the capacity journal is): it holds
 * the master's accounting records when the master has no RADIUS server (their only copy, which a rewrite keeping
 * what is open would drop), and every stop, which rebuilds the ledger's stops seen lately so that a Stop a NAS
 * sends again after a restart is not charged twice.
 */
class Journal {
  private readonly file: DurableAppendFile;
  constructor(readonly path: string) {
    this.file = new DurableAppendFile(path, "fsync");
  }

  static read(path: string): (JournalEvent | MasterRecord)[] {
    if (!existsSync(path)) return [];
    const out: (JournalEvent | MasterRecord)[] = [];
    for (const line of readFileSync(path, "utf8").split("\n")) {
      if (line === "") continue;
      try {
        out.push(JSON.parse(line) as JournalEvent | MasterRecord);
      } catch {
        // A line cut short by a crash mid-write: its record was never confirmed.
      }
    }
    return out;
  }

  /** Appends the events in one write and one fsync; throws when they are not all on disk. */
  write(events: (JournalEvent | MasterRecord)[]): void {
    if (events.length === 0) return;
    this.file.append(events.map((e) => `${JSON.stringify(e)}\n`).join(""));
  }

  close(): void {
    this.file.close();
  }
}

/** Room for a burst of a few thousand datagrams while the event loop is busy (a NAS's retry costs seconds). */
const RECEIVE_BUFFER_BYTES = 4 * 1024 * 1024;

/** The realm RADIUS proxy on UDP: a RealmProxy with its journal, sockets and retransmissions. */
export class RadiusRealmProxy {
  private nextId = 1;
  private readonly waiting = new Map<number, (reply: RadiusReply | undefined) => void>();

  private constructor(
    readonly machine: RealmProxy,
    private readonly auth: RadiusUdpServer,
    private readonly acct: RadiusUdpServer,
    private readonly journal: Journal | undefined,
    private readonly exporters: Map<string, AccountingExporter>,
    private readonly options: RadiusRealmProxyOptions,
  ) {}

  /** Replays the journal, binds the authentication and accounting ports, and starts proxying. */
  static async start(options: RadiusRealmProxyOptions): Promise<RadiusRealmProxy> {
    const { config } = options;
    const ledger = new CapacityLedger(Object.fromEntries(config.clients.map((c) => [c.name, c.capacity])), (config.holdSeconds ?? 60) * 1000);
    let replayed = 0;
    for (const e of config.journal ? Journal.read(config.journal) : []) {
      if (e.kind === "record") continue;
      ledger.apply(e);
      replayed++;
    }
    const machine = new RealmProxy({ config, ledger, ...(options.credentials ? { credentials: options.credentials } : {}) });
    const secrets = new Map(config.nas.map((n) => [n.address, n.secret]));
    const onDrop = (cause: string, from: RadiusEndpoint): void => options.drops?.drop(`RADIUS:${cause}`, { from: `${from.address}:${from.port}` });
    const holder: { proxy?: RadiusRealmProxy } = {};
    const handler = (packet: RadiusPacket, from: RadiusEndpoint): Promise<RadiusReply | undefined> => holder.proxy!.handle(packet, from);
    const serverOptions = { address: config.listen.address, receiveBufferBytes: RECEIVE_BUFFER_BYTES, secretFor: (from: RadiusEndpoint) => secrets.get(from.address), handler, onDrop };
    let auth: RadiusUdpServer | undefined;
    const exporters = new Map<string, AccountingExporter>();
    try {
      // The spools first: what a killed process left is on its way again before a NAS is heard.
      const prefix = options.spoolPrefix ?? config.journal ?? join(mkdtempSync(join(tmpdir(), "radius-proxy-")), "accounting");
      if (!options.spoolPrefix && !config.journal) options.logger?.warn({ prefix }, "no journal: accounting spools in a temporary directory that a restart will not find");
      const destinations: [AccountingDestination, RadiusServerRef][] = config.clients.map((c) => [{ kind: "client", name: c.name }, c.radius]);
      if (config.master.radius) destinations.unshift([{ kind: "master" }, config.master.radius]);
      for (const [destination, server] of destinations) {
        const name = destinationName(destination);
        const exporter = await AccountingExporter.open({
          spoolPath: accountingSpoolPath(prefix, destination),
          servers: [{ address: server.address, port: server.acctPort }],
          secret: server.secret,
          serverRetryMs: options.accountingRetryMs ?? 5000,
          onDrop: (cause, from) => options.drops?.drop(`RADIUS:accounting-${cause}`, { destination: name, from: `${from.address}:${from.port}` }),
          onServer: (s, state) => options.logger?.warn({ destination: name, server: `${s.address}:${s.port}`, state }, "accounting server"),
        });
        exporters.set(name, exporter);
        if (exporter.backlog > 0) options.logger?.info({ destination: name, backlog: exporter.backlog }, "accounting spool recovered");
      }
      auth = await RadiusUdpServer.listen({ ...serverOptions, port: config.listen.authPort });
      const acct = await RadiusUdpServer.listen({ ...serverOptions, port: config.listen.acctPort });
      const journal = config.journal ? new Journal(config.journal) : undefined;
      holder.proxy = new RadiusRealmProxy(machine, auth, acct, journal, exporters, options);
    } catch (err) {
      await auth?.close();
      for (const e of exporters.values()) await e.close();
      throw err;
    }
    options.logger?.info({ replayed }, "capacity journal replayed");
    return holder.proxy;
  }

  get authAddress(): RadiusEndpoint {
    return this.auth.address();
  }

  get acctAddress(): RadiusEndpoint {
    return this.acct.address();
  }

  private handle(packet: RadiusPacket, from: RadiusEndpoint): Promise<RadiusReply | undefined> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.run(this.machine.request(Date.now(), id, packet, from.address));
    });
  }

  /** Accounting records spooled and not yet answered, by destination. */
  accountingBacklog(): Record<string, number> {
    return Object.fromEntries([...this.exporters].map(([name, e]) => [name, e.backlog]));
  }

  /** Resolves true once every destination has answered every spooled record, false when `timeoutMs` passes first. */
  async accountingDrained(timeoutMs = Infinity): Promise<boolean> {
    const done = await Promise.all([...this.exporters.values()].map((e) => e.drained(timeoutMs)));
    return done.every(Boolean);
  }

  /** Requests whose journal lines or records wait for this turn's group commit, each with all its actions. */
  private durable: RealmProxyAction[][] = [];
  private commitScheduled = false;
  /** Ledger events already applied in memory whose journal write failed: written first by the next commit. */
  private owedJournal: JournalEvent[] = [];

  private run(actions: RealmProxyAction[]): void {
    if (!actions.some((a) => a.type === "journal" || a.type === "spool")) return this.perform(actions);
    this.durable.push(actions);
    if (!this.commitScheduled) {
      this.commitScheduled = true;
      setImmediate(() => this.commit());
    }
  }

  /**
   * Group commit of the requests that arrived in one event-loop turn: their journal lines in one write and fsync,
   * then each destination's records in one spool append and fsync; then each request's other actions (its answer).
   * A request whose line or record could not be written is not answered, so the NAS sends it again (RFC 2866 §2).
   */
  private commit(): void {
    this.commitScheduled = false;
    const requests = this.durable;
    this.durable = [];
    const unwritten = new Set<RealmProxyAction[]>();
    const reason = (err: unknown): string => (err instanceof Error ? err.message : String(err));
    const events = [...this.owedJournal, ...requests.flatMap((r) => r.flatMap((a) => (a.type === "journal" ? [a.event] : [])))];
    try {
      this.journal?.write(events);
      this.owedJournal = [];
    } catch (err) {
      for (const r of requests) unwritten.add(r);
      // The ledger holds them already (a NAS's retransmission makes none again): owed until a write succeeds.
      this.owedJournal = events.filter((e): e is JournalEvent => e.kind !== "record");
      this.options.drops?.drop("RADIUS:journal-not-written", { err: reason(err) });
    }
    // Each destination's spool holds at most its limit: a request whose new record would pass it waits for its NAS.
    const limit = this.options.accountingBacklogLimit ?? 100_000;
    const held = new Map<string, number>();
    for (const r of requests) {
      if (unwritten.has(r)) continue;
      const fresh = r.flatMap((a) => (a.type === "spool" && !this.exporters.get(destinationName(a.destination))?.holds(a.record.key) ? [destinationName(a.destination)] : []));
      const full = fresh.find((name) => (held.get(name) ?? this.exporters.get(name)?.backlog ?? 0) >= limit);
      if (full !== undefined) {
        unwritten.add(r);
        this.options.drops?.drop("RADIUS:accounting-backlog-full", { destination: full, limit });
        continue;
      }
      for (const name of fresh) held.set(name, (held.get(name) ?? this.exporters.get(name)?.backlog ?? 0) + 1);
    }
    const byDestination = new Map<string, { records: AccountingRecord[]; requests: RealmProxyAction[][] }>();
    for (const r of requests) {
      if (unwritten.has(r)) continue;
      for (const a of r) {
        if (a.type !== "spool") continue;
        const name = destinationName(a.destination);
        let d = byDestination.get(name);
        if (!d) byDestination.set(name, (d = { records: [], requests: [] }));
        d.records.push(a.record);
        d.requests.push(r);
      }
    }
    for (const [name, d] of byDestination) {
      try {
        const exporter = this.exporters.get(name);
        if (!exporter) throw new Error(`no accounting exporter for ${name}`);
        exporter.submit(d.records);
      } catch (err) {
        for (const r of d.requests) unwritten.add(r);
        this.options.drops?.drop("RADIUS:accounting-not-spooled", { destination: name, err: reason(err) });
      }
    }
    for (const r of requests) {
      if (!unwritten.has(r)) this.perform(r);
      else for (const a of r) if (a.type === "answer" || a.type === "no-answer") this.settle(a.id, undefined);
    }
  }

  private perform(actions: RealmProxyAction[]): void {
    for (const a of actions) {
      switch (a.type) {
        case "journal":
        case "spool":
          // Written by the group commit before these actions were performed.
          break;
        case "forward": {
          const port = a.port === "auth" ? a.to.authPort : a.to.acctPort;
          this.clientFor(a.to.secret)
            .request({ address: a.to.address, port }, a.request)
            .then(
              (answer) => this.run(this.machine.upstream(Date.now(), a.id, a.step, answer)),
              (err: unknown) => {
                this.options.drops?.drop(`RADIUS:upstream-${a.step}-failed`, { to: `${a.to.address}:${port}`, err: err instanceof Error ? err.message : String(err) });
                this.run(this.machine.upstream(Date.now(), a.id, a.step, undefined));
              },
            );
          break;
        }
        case "answer":
          this.settle(a.id, a.reply);
          break;
        case "no-answer":
          this.options.drops?.drop(`RADIUS:${a.cause}`);
          this.settle(a.id, undefined);
          break;
        case "decision":
          this.options.logger?.debug({ identity: a.identity, provider: a.provider, decision: a.decision }, "realm decision");
          this.options.onDecision?.(a.decision, a.provider);
          break;
      }
    }
  }

  private readonly clients = new Map<string, Promise<RadiusUdpClient>>();

  /** One upstream client per shared secret (the client machine signs with one secret). */
  private clientFor(secret: string): { request: RadiusUdpClient["request"] } {
    return {
      request: async (to, request) => {
        let c = this.clients.get(secret);
        if (!c) {
          c = RadiusUdpClient.open({
            secret,
            sourcePorts: 4,
            receiveBufferBytes: RECEIVE_BUFFER_BYTES,
            initialTimeoutMs: this.options.upstreamTimeoutMs ?? 1000,
            maxRetransmissions: this.options.upstreamRetransmissions ?? 2,
            maxDurationMs: 10_000,
            onDrop: (cause, from) => this.options.drops?.drop(`RADIUS:upstream-${cause}`, { from: `${from.address}:${from.port}` }),
          });
          this.clients.set(secret, c);
        }
        return (await c).request(to, request);
      },
    };
  }

  private settle(id: number, reply: RadiusReply | undefined): void {
    const w = this.waiting.get(id);
    this.waiting.delete(id);
    w?.(reply);
  }

  /** Closes the sockets and the journal; requests still waiting get no answer. */
  async close(): Promise<void> {
    await Promise.all([this.auth.close(), this.acct.close()]);
    for (const c of this.clients.values()) await (await c).close();
    for (const w of this.waiting.values()) w(undefined);
    this.waiting.clear();
    for (const e of this.exporters.values()) await e.close();
    this.journal?.close();
  }
}
