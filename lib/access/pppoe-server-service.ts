// `callgate pppoe-server` as a library call: the PPPoE server role on a frame port, its timers, logs and metrics.
import { randomBytes } from "node:crypto";
import { startOperations, type Operations } from "../flow/operations.js";
import type { Logger } from "../observability/log.js";
import { AccessMetrics } from "./access-metrics.js";
import type { PppoeServerConfig } from "./access-config.js";
import { AddressPool } from "./address-pool.js";
import { FramePort, interfaceMac } from "./frame-port.js";
import { NamedTimers } from "./named-timers.js";
import { PppoeServerRole } from "./pppoe-server-role.js";
import type { PppoeServerRoleAction, PppoeServerRoleEvent } from "./pppoe-server-role.js";

/** A running PPPoE server: its MAC, role, operations, frame port and `close()`. */
export interface RunningPppoeServer {
  readonly mac: string;
  readonly role: PppoeServerRole;
  readonly operations: Operations;
  readonly framePort: FramePort;
  /** Ends every session with a PADT and closes the port. */
  close(): Promise<void>;
}

/** Starts `callgate pppoe-server` as a library call: the PPPoE server role on a frame port. */
export async function startPppoeServer(config: PppoeServerConfig, options: { logger?: Logger; onEvent?: (e: PppoeServerRoleEvent) => void } = {}): Promise<RunningPppoeServer> {
  const ops = await startOperations({
    name: "pppoe-server",
    callRoles: [],
    ...(options.logger ? { logger: options.logger } : {}),
    ...(config.logLevel ? { logLevel: config.logLevel } : {}),
    ...(config.metrics ? { metrics: config.metrics } : {}),
  });
  const metrics = new AccessMetrics(ops.metrics);
  const mac = config.framePort.mac ?? interfaceMac(config.framePort.interface!);
  const role = new PppoeServerRole({
    mac,
    acName: config.acName,
    serviceNames: config.serviceNames,
    cookieSecret: randomBytes(32),
    maxSessions: config.maxSessions,
    auth: config.auth,
    users: config.users,
    localAddress: config.localAddress,
    pool: new AddressPool(config.pool.first, config.pool.last),
    echoIntervalMs: config.echoIntervalMs,
    echoFailures: config.echoFailures,
    randomBytes,
  });
  const io: { port?: FramePort } = {};
  const timers = new NamedTimers((name) => run(role.handle({ type: "timer", name }, Date.now())));
  const run = (actions: PppoeServerRoleAction[]): void => {
    for (const a of actions) {
      switch (a.type) {
        case "send":
          metrics.frames.inc({ direction: "out" });
          io.port?.send(a.bytes);
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
  const onEvent = (e: PppoeServerRoleEvent): void => {
    options.onEvent?.(e);
    switch (e.type) {
      case "dropped":
        ops.drops.drop(`PPPoE:${e.cause}`, { detail: e.detail });
        break;
      case "session-started":
        metrics.sessions.set(role.sessionCount);
        ops.logger.debug({ sessionId: e.sessionId, hostMac: e.hostMac }, "session started");
        break;
      case "link-up":
        ops.logger.debug({ sessionId: e.sessionId, address: e.address, user: e.user }, "link up");
        break;
      case "auth-refused":
        ops.logger.info({ sessionId: e.sessionId, user: e.user }, "authentication refused");
        break;
      case "session-ended":
        metrics.sessions.set(role.sessionCount);
        metrics.sessionsEnded.inc({ by: e.by });
        ops.logger.debug({ sessionId: e.sessionId, by: e.by, reason: e.reason }, "session ended");
        break;
      default:
        break;
    }
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
  return {
    mac,
    role,
    operations: ops,
    framePort,
    async close() {
      const actions = role.sessionIds().flatMap((sessionId) => role.handle({ type: "terminate", sessionId, reason: "server stopping" }, Date.now()));
      run(actions.filter((a) => a.type !== "send"));
      const frames = actions.flatMap((a) => (a.type === "send" ? [a.bytes] : []));
      metrics.frames.inc({ direction: "out" }, frames.length);
      await framePort.sendPaced(frames);
      timers.clear();
      await framePort.close();
      await ops.close();
    },
  };
}
