// `callgate pppoe-server --config FILE`: a PPPoE server (the ISP side) on a frame port.
import { AccessConfigError, readPppoeServerConfig } from "../../access/access-config.js";
import { startPppoeServer } from "../../access/pppoe-server-service.js";
import { runConfigService } from "../config-service.js";

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

export function run(args: string[]): Promise<number> {
  return runConfigService(
    "pppoe-server",
    USAGE,
    args,
    async (configPath, logLevel) => {
      const config = readPppoeServerConfig(configPath);
      if (logLevel) config.logLevel = logLevel;
      const server = await startPppoeServer(config);
      const port = server.framePort.address;
      return { ready: { mac: server.mac, framePort: `${port.address}:${port.port}`, ...(server.operations.metricsAddress ? { metrics: server.operations.metricsAddress } : {}) }, close: () => server.close() };
    },
    AccessConfigError,
  );
}
