// `callgate pppoe-concentrator` as a library call: the access concentrator role between a line listener (TCP,
// HDLC-framed PPP) and a frame port, with its timers, the session journal, RADIUS as a NAS, logs and metrics.
import { randomBytes } from "node:crypto";
import { chapMd5Response } from "../../protocols/pppoe/index.js";
import { RadiusUdpClient } from "../../protocols/radius/index.js";
import { AccountingExporter } from "../accounting/exporter.js";
import { startOperations, type Operations } from "../flow/operations.js";
import type { Logger } from "../observability/log.js";
import type { ConcentratorConfig } from "./access-config.js";
import { AccessMetrics } from "./access-metrics.js";
import { AddressPool } from "./address-pool.js";
import { AccessConcentrator } from "./concentrator.js";
import type { ConcentratorAction, ConcentratorEvent } from "./concentrator.js";
import { FramePort, interfaceMac } from "./frame-port.js";
import { LineListener } from "./line-listener.js";
import { NamedTimers } from "./named-timers.js";
import { AccessNas, type AccountedSession, type TerminateCause } from "./nas.js";
import type { AccountingRecord } from "../accounting/records.js";
import { openSessionJournal, type JournalSession } from "./session-journal.js";

/** A running concentrator: its MAC, role, operations, line listener, frame port and `close()`. */
export interface RunningConcentrator {
  readonly mac: string;
  readonly role: AccessConcentrator;
  readonly operations: Operations;
  readonly lines: { host: string; port: number };
  readonly framePort: FramePort;
  /** Sessions a previous run left open that this run ended (PADT, Accounting-Stop). */
  readonly staleSessions: JournalSession[];
  /** The accounting exporter (spooled Start, Interim-Update and Stop records), when accounting is configured. */
  readonly accounting: AccountingExporter | undefined;
  /** Accounting and journal work still in flight. */
  settled(): Promise<void>;
  /** PADT for every session, every line closed, accounting finished. */
  close(): Promise<void>;
}

const CAUSE: Record<"line" | "server" | "concentrator", TerminateCause> = { line: "User-Request", server: "Admin-Reset", concentrator: "NAS-Request" };

/** Starts `callgate pppoe-concentrator` as a library call: the concentrator between a line listener and a frame port. */
export async function startConcentrator(config: ConcentratorConfig, options: { logger?: Logger; onEvent?: (e: ConcentratorEvent) => void } = {}): Promise<RunningConcentrator> {
  const ops = await startOperations({
    name: "pppoe-concentrator",
    callRoles: [],
    ...(options.logger ? { logger: options.logger } : {}),
    ...(config.logLevel ? { logLevel: config.logLevel } : {}),
    ...(config.metrics ? { metrics: config.metrics } : {}),
  });
  const metrics = new AccessMetrics(ops.metrics);
  const mac = config.framePort.mac ?? interfaceMac(config.framePort.interface!);
  const radiusClient = config.radius?.auth ? await RadiusUdpClient.open({ secret: config.radius.secret, bindAddress: "0.0.0.0", initialTimeoutMs: 2000, maxRetransmissions: 4 }) : undefined;
  const nas = config.radius
    ? new AccessNas({
        ...(radiusClient ? { client: radiusClient } : {}),
        nasIdentifier: config.radius.nasIdentifier,
        ...(config.radius.auth ? { auth: config.radius.auth } : {}),
        ...(config.radius.nasIpAddress ? { nasIpAddress: config.radius.nasIpAddress } : {}),
      })
    : undefined;
  // Accounting records are fsynced in the exporter's spool before they are sent; a restarted run resends what
  // was not answered as the same bytes from the same port (RFC 5080 §2.2.1), so the server records each once.
  const exporter =
    config.radius?.acct && config.radius.acctSpool
      ? await AccountingExporter.open({
          spoolPath: config.radius.acctSpool,
          servers: config.radius.acct,
          secret: config.radius.secret,
          initialTimeoutMs: 2000,
          maxRetransmissions: 4,
          maxDurationMs: 30_000,
          onDrop: (cause, from) => ops.drops.drop(`RADIUS:${cause}`, { from: `${from.address}:${from.port}` }),
          onServer: (server, state) => ops.logger.warn({ server: `${server.address}:${server.port}`, state }, "accounting server"),
        })
      : undefined;
  // Records of one event-loop turn go to the spool together: one fsync for a burst of sessions.
  let batch: { records: AccountingRecord[]; done: Promise<void> } | undefined;
  const submit = (record: AccountingRecord): Promise<void> => {
    if (!exporter) return Promise.resolve();
    if (!batch) {
      const records: AccountingRecord[] = [];
      batch = {
        records,
        done: new Promise<void>((resolve, reject) =>
          setImmediate(() => {
            batch = undefined;
            try {
              exporter.submit(records);
              resolve();
            } catch (err) {
              reject(err instanceof Error ? err : new Error(String(err)));
            }
          }),
        ),
      };
    }
    batch.records.push(record);
    return batch.done;
  };
  const journal = config.journal ? openSessionJournal(config.journal) : undefined;
  // The sessions a killed run left open (ended below, once the frame port is open).
  const staleSessions = journal?.open ?? [];
  const role = new AccessConcentrator({
    mode: config.mode,
    mac,
    maxLines: config.lines.maxLines,
    maxSessions: config.maxSessions,
    maxPendingFrames: 8,
    randomBytes,
    ...(config.serviceName !== undefined ? { serviceName: config.serviceName } : {}),
    ...(config.acName !== undefined ? { acName: config.acName } : {}),
    ...(config.shared ? { shared: { ...config.shared, pool: new AddressPool(config.shared.pool.first, config.shared.pool.last) } } : {}),
  });
  const runTag = randomBytes(4).toString("hex");
  /** End-user sessions being accounted, by line: their record and the work that must finish before the Stop. */
  const accounted = new Map<number, { session: AccountedSession; journaled: JournalSession; started: Promise<void>; interims: number; startSent: boolean }>();
  const inFlight = new Set<Promise<void>>();
  const track = (p: Promise<void>): void => {
    const done = p.catch((err: unknown) => ops.logger.error({ err: String(err) }, "accounting failed")).finally(() => inFlight.delete(done));
    inFlight.add(done);
  };

  // The frame port and the line listener, once open.
  const io: { port?: FramePort; lines?: LineListener } = {};
  const timers = new NamedTimers((name) => run(role.handle({ type: "timer", name }, Date.now())));
  const run = (actions: ConcentratorAction[]): void => {
    for (const a of actions) {
      switch (a.type) {
        case "send":
          metrics.frames.inc({ direction: "out" });
          io.port?.send(a.bytes);
          break;
        case "line-send":
          io.lines?.send(a.line, a.frame);
          break;
        case "line-close":
          io.lines?.close(a.line);
          break;
        case "set-timer":
          timers.set(a.name, a.delayMs);
          break;
        case "cancel-timer":
          timers.cancel(a.name);
          break;
        case "emit":
          onEvent(a.event);
          break;
      }
    }
  };

  /** `user` undefined: the Start waits for the user's name (`startAccounting`). */
  const beginAccounting = (line: number, sessionId: number, serverMac: string, user: string | undefined, address?: string): void => {
    const startedAt = Date.now();
    const key = `${runTag}-${line}-${sessionId || address}`;
    const session: AccountedSession = { key, user: user ?? "", line, startedAt, ...(address ? { address } : {}) };
    const journaled: JournalSession = { key, line, sessionId, serverMac, user: user ?? "", startedAt, ...(address ? { address } : {}) };
    // The session is in the journal (for a PADT after a kill) before its Accounting-Start is spooled.
    const entry = { session, journaled, started: Promise.resolve(), interims: 0, startSent: false };
    entry.started = (async () => {
      await journal?.opened(journaled);
      if (user !== undefined) await sendStart(entry);
    })();
    track(entry.started);
    accounted.set(line, entry);
  };

  const sendStart = async (entry: { session: AccountedSession; startSent: boolean }): Promise<void> => {
    if (entry.startSent) return;
    entry.startSent = true;
    if (nas) await submit(nas.startRecord(entry.session, entry.session.startedAt));
  };

  /** Session per line: the relayed PAP/CHAP named the user; the journal and the Accounting-Start carry it. */
  const startAccounting = (line: number, user: string): void => {
    const entry = accounted.get(line);
    if (!entry || entry.startSent) return;
    entry.session.user = user;
    entry.journaled = { ...entry.journaled, user };
    const journaled = entry.journaled;
    const opened = entry.started;
    entry.started = (async () => {
      await opened;
      if (user) await journal?.opened(journaled);
      await sendStart(entry);
    })();
    track(entry.started);
  };

  const endAccounting = (line: number, user: string, usage: { octetsIn: number; octetsOut: number; packetsIn: number; packetsOut: number }, cause: TerminateCause): void => {
    const entry = accounted.get(line);
    if (!entry) return;
    accounted.delete(line);
    if (user) entry.session.user = user;
    // The journal's close is written once the Stop is in the spool: a kill before it makes the next run submit
    // the Stop again under the same key, which the spool takes as the same record.
    track(
      (async () => {
        await entry.started.catch(() => undefined);
        // A session that ended before its user was known still gets its Start, then its Stop.
        const start = sendStart(entry);
        const stop = nas ? submit(nas.stopRecord(entry.session, usage, cause, Date.now())) : undefined;
        await Promise.all([start, stop]);
        await journal?.closed(entry.session.key);
      })(),
    );
  };

  const onEvent = (e: ConcentratorEvent): void => {
    options.onEvent?.(e);
    switch (e.type) {
      case "session-up":
        metrics.sessions.set(role.sessionCount);
        beginAccounting(e.line, e.sessionId, e.serverMac, undefined);
        break;
      case "session-user":
        startAccounting(e.line, e.user);
        break;
      case "session-down":
        metrics.sessions.set(role.sessionCount);
        metrics.sessionsEnded.inc({ by: e.by });
        endAccounting(e.line, e.user, e, CAUSE[e.by]);
        break;
      case "line-up":
        beginAccounting(e.line, 0, role.sharedSession?.serverMac ?? "", e.user, e.address);
        break;
      case "line-down":
        metrics.sessionsEnded.inc({ by: "line" });
        endAccounting(e.line, e.user, e, e.reason === "concentrator stopping" ? "NAS-Request" : "User-Request");
        break;
      case "authenticate":
        track(authenticate(e));
        break;
      case "shared-up":
        metrics.sessions.set(1);
        ops.logger.info({ sessionId: e.sessionId, address: e.address }, "shared session up");
        break;
      case "shared-down":
        metrics.sessions.set(0);
        ops.logger.warn({ reason: e.reason }, "shared session down");
        break;
      case "refused":
        ops.drops.drop(`PPPoE:line-refused-${e.reason}`, { line: e.line });
        break;
      case "dropped":
        ops.drops.drop(`PPPoE:${e.cause}`, { detail: e.detail });
        break;
    }
  };

  const authenticate = async (e: Extract<ConcentratorEvent, { type: "authenticate" }>): Promise<void> => {
    let ok: boolean;
    let message = "";
    if (nas?.authenticates) {
      try {
        ({ ok, message } = await nas.authenticate(e.line, e));
      } catch (err) {
        ops.drops.drop("RADIUS:access-request-failed", { line: e.line, err: String(err) });
        ok = false;
      }
    } else {
      const secret = config.users[e.peerId];
      ok = secret !== undefined && (e.method === "pap" ? e.password.toString("utf8") === secret : e.response.equals(chapMd5Response(e.identifier, secret, e.challenge)));
    }
    run(role.handle({ type: "auth-result", line: e.line, ok, message }, Date.now()));
  };

  io.port = await FramePort.open({
    bind: config.framePort.bind,
    bridge: config.framePort.bridge,
    ...(config.framePort.interface ? { interface: config.framePort.interface } : {}),
    onFrame: (bytes) => {
      metrics.frames.inc({ direction: "in" });
      run(role.handle({ type: "frame", bytes }, Date.now()));
    },
    onBridgeExit: (code) => ops.logger.error({ code }, "frame bridge exited"),
  });
  const framePort = io.port;

  // Sessions a killed run left open: PADT at the server, Accounting-Stop (with their last interim counts), then closed here.
  const stalePadts = staleSessions.flatMap((s) => (s.sessionId !== 0 ? role.handle({ type: "stale-session", sessionId: s.sessionId, serverMac: s.serverMac }, Date.now()) : []));
  await framePort.sendPaced(stalePadts.flatMap((a) => (a.type === "send" ? [a.bytes] : [])));
  for (const s of staleSessions) {
    track(
      (async () => {
        const session: AccountedSession = { key: s.key, user: s.user, line: s.line, startedAt: s.startedAt, ...(s.address ? { address: s.address } : {}) };
        // The Start too, in case the killed run died before sending it: the spool takes a key it has as the same record.
        if (nas) await Promise.all([submit(nas.startRecord(session, s.startedAt)), submit(nas.stopRecord(session, s.usage, "NAS-Reboot", Date.now()))]);
        await journal?.closed(s.key);
      })(),
    );
  }
  if (staleSessions.length) ops.logger.warn({ count: staleSessions.length }, "ended sessions a previous run left open");

  io.lines = await LineListener.listen({
    host: config.lines.host,
    port: config.lines.port,
    maxFrameBytes: config.lines.maxFrameBytes,
    limits: { maxConnections: config.lines.maxLines, maxConnectionsPerSource: 0, idleTimeoutMs: config.lines.idleTimeoutMs, headerTimeoutMs: config.lines.frameTimeoutMs, bodyTimeoutMs: 0 },
    onOpen: (line) => {
      metrics.lines.inc();
      run(role.handle({ type: "line-open", line }, Date.now()));
    },
    onFrame: (line, frame) => run(role.handle({ type: "line-frame", line, frame }, Date.now())),
    onClose: (line) => {
      metrics.lines.dec();
      run(role.handle({ type: "line-closed", line }, Date.now()));
    },
    onDrop: (cause, detail) => ops.drops.drop(`PPPoE:${cause}`, detail),
    onRefuse: (cause, peer) => ops.drops.drop(`PPPoE:line-${cause}`, { peer: `${peer.address}:${peer.port}` }),
  });
  const lineListener = io.lines;
  ops.watch({ connections: () => ({ lines: lineListener.open }) });
  run(role.handle({ type: "start" }, Date.now()));

  // Interim counts: on disk first (a kill then loses at most one interval), then an Interim-Update.
  const interim =
    config.interimIntervalMs > 0
      ? setInterval(() => {
          for (const [line, entry] of accounted) {
            const usage = role.usage(line);
            if (!usage || !entry.startSent) continue;
            track(
              (async () => {
                await entry.started.catch(() => undefined);
                await journal?.updated(entry.session.key, { usage });
                if (nas) await submit(nas.interimRecord(entry.session, usage, ++entry.interims, Date.now()));
              })(),
            );
          }
        }, config.interimIntervalMs)
      : undefined;
  interim?.unref();

  const settled = async (): Promise<void> => {
    while (inFlight.size) await Promise.allSettled([...inFlight]);
  };
  return {
    mac,
    role,
    operations: ops,
    lines: lineListener.address,
    framePort,
    staleSessions,
    accounting: exporter,
    settled,
    async close() {
      clearInterval(interim);
      const actions = role.handle({ type: "stop" }, Date.now());
      run(actions.filter((a) => a.type !== "send"));
      const frames = actions.flatMap((a) => (a.type === "send" ? [a.bytes] : []));
      metrics.frames.inc({ direction: "out" }, frames.length);
      await framePort.sendPaced(frames);
      await settled();
      timers.clear();
      await lineListener.stop();
      await framePort.close();
      journal?.close();
      // What the server has not answered within a few seconds stays in the spool for the next run.
      await exporter?.drained(5000);
      await exporter?.close();
      await radiusClient?.close();
      await ops.close();
    },
  };
}
