// `callgate proxy --listen udp:127.0.0.1:5060 [--listen tcp:...] --next-hop udp:127.0.0.1:5070`
// A plain record-routing stateful proxy (RFC 3261 §16): every new request, and every in-dialog request
// without a Route, goes to the next hop; in-dialog requests with a Route follow it (§16.12).
import { nextHopHook, parseTransportAddress, startProxyServer, type TransportAddress } from "../../../protocols/sip/index.js";
import type { ConnectionLimits } from "../../../protocols/net/connection-limits.js";
import { LIMIT_FLAGS, LIMIT_USAGE, setLimitFlag } from "../limit-options.js";
import { TLS_USAGE, readTlsFlags, takeTlsFlag, type TlsFlags, type TlsMaterial } from "../tls-options.js";
import { checkLogLevel, parseHostPort, startOperations } from "../../flow/operations.js";

const USAGE = `usage: callgate proxy --listen PROTO:HOST:PORT [--listen ...] --next-hop PROTO:HOST:PORT [--no-record-route] [--stats-interval SECONDS]
                      [--log-level LEVEL] [--metrics HOST:PORT]
  PROTO is udp, tcp, tls, ws or wss (tls and wss need --tls-cert and --tls-key); the next hop is reached over a listener of its PROTO.
  --max-server-transactions N  new requests beyond N held server transactions get 503 (default 50000; 0: no bound)
${LIMIT_USAGE}
${TLS_USAGE}
  --log-level LEVEL     trace, debug, info, warn, error, fatal or silent (default info; JSON lines on stderr)
  --metrics HOST:PORT   serve Prometheus metrics at http://HOST:PORT/metrics`;

interface ProxyArgs {
  listen: TransportAddress[];
  nextHop: TransportAddress;
  recordRoute: boolean;
  statsInterval: number;
  limits: Partial<ConnectionLimits>;
  maxServerTransactions?: number;
  tls?: TlsMaterial;
  logLevel?: string;
  metrics?: { host: string; port: number };
}

function parseArgs(args: string[]): ProxyArgs | string {
  const listen: TransportAddress[] = [];
  let nextHop: TransportAddress | undefined;
  let recordRoute = true;
  let statsInterval = 0;
  const limits: Partial<ConnectionLimits> = {};
  let maxServerTransactions: number | undefined;
  const tlsFlags: TlsFlags = {};
  let logLevel: string | undefined;
  let metrics: { host: string; port: number } | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const value = (): string => {
      const v = args[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    try {
      if (a === "--listen") listen.push(parseTransportAddress(value()));
      else if (a === "--next-hop") nextHop = parseTransportAddress(value());
      else if (a === "--no-record-route") recordRoute = false;
      else if (takeTlsFlag(tlsFlags, a, value)) continue;
      else if (a === "--max-server-transactions") {
        const text = value();
        if (!/^\d{1,9}$/.test(text)) return `--max-server-transactions wants a non-negative integer, got '${text}'\n${USAGE}`;
        maxServerTransactions = Number(text);
      } else if (LIMIT_FLAGS[a] !== undefined) {
        const problem = setLimitFlag(limits, a, value());
        if (problem) return `${problem.message}\n${USAGE}`;
      }
      else if (a === "--stats-interval") {
        const text = value();
        statsInterval = Number(text);
        if (!/^\d+(\.\d+)?$/.test(text)) return `--stats-interval wants a number of seconds, got '${text}'\n${USAGE}`;
      } else if (a === "--log-level") {
        logLevel = value();
        const problem = checkLogLevel(logLevel);
        if (problem) return `${problem.message}\n${USAGE}`;
      } else if (a === "--metrics") {
        const at = parseHostPort(value(), "--metrics");
        if (at instanceof Error) return `${at.message}\n${USAGE}`;
        metrics = at;
      }
      else if (a === "--help" || a === "-h") return USAGE;
      else return `unknown option '${a}'\n${USAGE}`;
    } catch (err) {
      return `${err instanceof Error ? err.message : String(err)}\n${USAGE}`;
    }
  }
  if (listen.length === 0 || !nextHop) return `--listen and --next-hop are required\n${USAGE}`;
  let tls: TlsMaterial | undefined;
  try {
    tls = readTlsFlags(tlsFlags);
  } catch (err) {
    return `${err instanceof Error ? err.message : String(err)}\n${USAGE}`;
  }
  // RFC 3261 §26.3.1 / RFC 7118 §3: a tls: or wss: listener presents a certificate.
  const secured = listen.find((a) => a.protocol === "tls" || a.protocol === "wss");
  if (secured && !tls) return `--listen ${secured.protocol}:${secured.host}:${secured.port} needs --tls-cert and --tls-key\n${USAGE}`;
  if (tls && !secured) return `--tls-cert: no tls: or wss: --listen to present it on\n${USAGE}`;
  const problem = impossibleSetting(listen, nextHop, metrics);
  if (problem) return `${problem}\n${USAGE}`;
  return { listen, nextHop, recordRoute, statsInterval, limits, ...(maxServerTransactions !== undefined ? { maxServerTransactions } : {}), ...(tls ? { tls } : {}), ...(logLevel !== undefined ? { logLevel } : {}), ...(metrics ? { metrics } : {}) };
}

const show = (a: TransportAddress): string => `${a.protocol}:${a.host}:${a.port}`;

/** Settings that cannot work together, named as given. */
export function impossibleSetting(listen: readonly TransportAddress[], nextHop: TransportAddress, metrics?: { host: string; port: number }): string | undefined {
  const seen = new Set<string>();
  for (const a of listen) {
    if (seen.has(show(a))) return `--listen ${show(a)} is given twice`;
    seen.add(show(a));
  }
  // RFC 3261 §18.1.1: the request leaves over a transport of the next hop's kind; the proxy has only its listeners.
  if (!listen.some((a) => a.protocol === nextHop.protocol))
    return `--next-hop ${show(nextHop)} needs a ${nextHop.protocol} listener (--listen ${nextHop.protocol}:HOST:PORT): without one every call would be answered 500`;
  if (listen.some((a) => a.host === nextHop.host && a.port === nextHop.port && a.protocol === nextHop.protocol))
    return `--next-hop ${show(nextHop)} is this proxy's own --listen address: every request would loop`;
  const clash = metrics && listen.find((a) => a.port === metrics.port && (a.host === metrics.host || metrics.host === "0.0.0.0" || a.host === "0.0.0.0"));
  if (metrics && clash) return `--metrics ${metrics.host}:${metrics.port} is the SIP address --listen ${show(clash)}: give the metrics their own port`;
  return undefined;
}

export async function run(args: string[]): Promise<number> {
  const parsed = parseArgs(args);
  if (typeof parsed === "string") {
    const help = args.includes("--help") || args.includes("-h");
    (help ? console.log : console.error)(parsed);
    return help ? 0 : 2;
  }
  const nextHop = parsed.nextHop;
  const hook = nextHopHook(nextHop);
  let ops;
  try {
    ops = await startOperations({ name: "proxy", ...(parsed.logLevel !== undefined ? { logLevel: parsed.logLevel } : {}), ...(parsed.metrics ? { metrics: parsed.metrics } : {}), callRoles: [] });
  } catch (err) {
    console.error(`callgate proxy: --metrics ${parsed.metrics?.host ?? ""}:${parsed.metrics?.port ?? ""}: cannot listen (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
    return 1;
  }
  const operations = ops;
  let server;
  try {
    server = await startProxyServer({
      listen: parsed.listen,
      hook,
      recordRoute: parsed.recordRoute,
      connectionLimits: parsed.limits,
      ...(parsed.maxServerTransactions !== undefined ? { maxServerTransactions: parsed.maxServerTransactions } : {}),
      ...(parsed.tls ? { tls: { secureContext: { cert: parsed.tls.certificatePem, key: parsed.tls.keyPem, ...(parsed.tls.caPem ? { ca: parsed.tls.caPem } : {}) }, requireClientCert: parsed.tls.requireClientCert } } : {}),
      observer: {
        onError: (_ctx, err) => operations.logger.error({ err: err.message }, "proxy error"),
        // A call ends for the proxy with the final response to its INVITE (§16.7 step 5).
        onFinalResponse: (ctx, res) => {
          if (ctx.method === "INVITE") operations.metrics.calls.inc({ outcome: res.status < 300 ? "answered" : String(res.status) });
        },
      },
      onDrop: (cause, source, detail) => operations.drops.drop(`SIP:${cause}`, { ...(source ? { source: show(source) } : {}), detail }),
    });
  } catch (err) {
    operations.logger.fatal({ err: err instanceof Error ? err.message : String(err) }, "proxy cannot start");
    console.error(`callgate proxy: cannot listen: ${err instanceof Error ? err.message : String(err)}`);
    await operations.close();
    return 1;
  }
  const where = server.addresses.map((a) => `${a.protocol}:${a.host}:${a.port}`).join(" ");
  operations.logger.info({ listen: server.addresses.map(show), nextHop: show(nextHop), ...(operations.metricsAddress ? { metrics: operations.metricsAddress } : {}) }, "proxy started");
  console.log(`callgate proxy listening on ${where}, next hop ${nextHop.protocol}:${nextHop.host}:${nextHop.port}${operations.metricsAddress ? `, metrics http://${operations.metricsAddress}/metrics` : ""}`);
  const timer = parsed.statsInterval > 0 ? setInterval(() => console.log(JSON.stringify(server.transport.stats)), parsed.statsInterval * 1000) : undefined;
  await new Promise<void>((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
  if (timer) clearInterval(timer);
  await server.close();
  operations.logger.info({ stats: server.transport.stats, drops: operations.drops.counts() }, "proxy stopped");
  await operations.close();
  console.log(JSON.stringify({ stats: server.transport.stats }));
  return 0;
}
