// `callgate pppoe-server --config FILE`: a PPPoE server (the ISP side) on a frame port.
import { AccessConfigError, readPppoeServerConfig } from "../../access/access-config.js";
import { startPppoeServer } from "../../access/pppoe-server-service.js";
import { checkLogLevel } from "../../flow/operations.js";

const USAGE = `usage: callgate pppoe-server --config FILE [--log-level LEVEL]
  A PPPoE server (RFC 2516 Discovery, PPP LCP, PAP or CHAP, IPCP) that reflects IPv4 datagrams to their sender.
  FILE (YAML):
    framePort: { interface: IF }          # starts socat on IF; or { bind: HOST:PORT, bridge: HOST:PORT, mac: MAC }
    acName: NAME                          # default callgate
    serviceNames: [NAME, ...]             # default: any
    auth: pap | chap | none               # default pap
    users: { NAME: PASSWORD, ... }
    localAddress: A.B.C.D                 # the server's IPCP address
    pool: { first: A.B.C.D, last: A.B.C.D }
    maxSessions: N                        # default 4096
    echoIntervalMs: MS                    # LCP Echo-Request interval, 0: none (default)
    echoFailures: N                       # unanswered echoes before the session ends (default 3)
    metrics: HOST:PORT                    # Prometheus /metrics
  Prints one JSON line {"ready":true,...} on stdout once the port is open; SIGTERM ends every session (PADT).`;

export async function run(args: string[]): Promise<number> {
  let configPath: string | undefined;
  let logLevel: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "--help" || a === "-h") {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    const value = args[++i];
    if (value === undefined) {
      process.stderr.write(`${a} needs a value\n${USAGE}\n`);
      return 2;
    }
    if (a === "--config") configPath = value;
    else if (a === "--log-level") logLevel = value;
    else {
      process.stderr.write(`unknown option '${a}'\n${USAGE}\n`);
      return 2;
    }
  }
  if (!configPath) {
    process.stderr.write(`--config is required\n${USAGE}\n`);
    return 2;
  }
  const levelProblem = checkLogLevel(logLevel);
  if (levelProblem) {
    process.stderr.write(`${levelProblem.message}\n`);
    return 2;
  }
  let server;
  try {
    const config = readPppoeServerConfig(configPath);
    if (logLevel) config.logLevel = logLevel;
    server = await startPppoeServer(config);
  } catch (err) {
    process.stderr.write(`pppoe-server: ${err instanceof AccessConfigError ? err.message : String(err)}\n`);
    return 2;
  }
  const port = server.framePort.address;
  process.stdout.write(
    `${JSON.stringify({ ready: true, mac: server.mac, framePort: `${port.address}:${port.port}`, ...(server.operations.metricsAddress ? { metrics: server.operations.metricsAddress } : {}) })}\n`,
  );
  const running = server;
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off("SIGTERM", stop);
      process.off("SIGINT", stop);
      void running.close().then(resolve);
    };
    process.on("SIGTERM", stop);
    process.on("SIGINT", stop);
  });
  return 0;
}
