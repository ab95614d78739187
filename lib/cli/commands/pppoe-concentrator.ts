// `callgate pppoe-concentrator --config FILE`: end users' lines (TCP, HDLC-framed PPP) to one PPPoE server.
import { AccessConfigError, readConcentratorConfig } from "../../access/access-config.js";
import { startConcentrator } from "../../access/concentrator-service.js";
import { runConfigService } from "../config-service.js";

const USAGE = `usage: callgate pppoe-concentrator --config FILE [--log-level LEVEL]
  An access concentrator: each TCP connection to lines.listen is an end user's line carrying PPP in RFC 1662
  HDLC-like framing; the server is reached over PPPoE on the frame port.
  FILE (YAML):
    mode: session-per-line | shared-session
    framePort: { interface: IF }          # starts socat on IF; or { bind: HOST:PORT, bridge: HOST:PORT, mac: MAC }
    lines: { listen: HOST:PORT, maxLines: N, maxFrameBytes: N, idleTimeoutMs: MS, frameTimeoutMs: MS }
    maxSessions: N                        # PPPoE sessions at once (session-per-line; default 1000)
    serviceName: NAME                     # asked for in PADI (default: any)
    acName: NAME                          # only this server's PADO is taken
    shared:                               # shared-session: the one session's credentials and the lines' addresses
      { username: U, password: P, localAddress: A.B.C.D, pool: { first: A.B.C.D, last: A.B.C.D }, lineAuth: pap | chap | none }
    users: { NAME: PASSWORD }             # line users checked here when no radius.auth is set (shared-session)
    radius: { secret: S, auth: HOST:PORT, acct: HOST:PORT | [HOST:PORT, ...], acctSpool: FILE, nasIdentifier: NAME, nasIpAddress: A.B.C.D }
                                          # acct: a list fails over in order; acctSpool defaults to the journal's path + ".acct"
    journal: FILE                         # open sessions on disk; a restart ends those a killed run left (PADT, Stop)
    interimIntervalMs: MS                 # interim counts to the journal and Interim-Update (default 0: none)
    metrics: HOST:PORT                    # Prometheus /metrics
  Prints one JSON line {"ready":true,...} on stdout once listening; SIGTERM sends a PADT for every session.`;

export function run(args: string[]): Promise<number> {
  return runConfigService(
    "pppoe-concentrator",
    USAGE,
    args,
    async (configPath, logLevel) => {
      const config = readConcentratorConfig(configPath);
      if (logLevel) config.logLevel = logLevel;
      const ac = await startConcentrator(config);
      const port = ac.framePort.address;
      return { ready: {
          mac: ac.mac,
          lines: `${ac.lines.host}:${ac.lines.port}`,
          framePort: `${port.address}:${port.port}`,
          staleSessions: ac.staleSessions.length,
          ...(ac.operations.metricsAddress ? { metrics: ac.operations.metricsAddress } : {}),
        }, close: () => ac.close() };
    },
    AccessConfigError,
  );
}
