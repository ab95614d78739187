// `callgate proxy --listen udp:127.0.0.1:5060 [--listen tcp:...] --next-hop udp:127.0.0.1:5070`
// A plain record-routing stateful proxy (RFC 3261 §16): every new request, and every in-dialog request
// without a Route, goes to the next hop; in-dialog requests with a Route follow it (§16.12).
import { nextHopHook, parseTransportAddress, startProxyServer, type TransportAddress } from "../../../protocols/sip/index.js";
import type { ConnectionLimits } from "../../../protocols/net/connection-limits.js";
import { LIMIT_FLAGS, LIMIT_USAGE, setLimitFlag } from "../limit-options.js";
import { TLS_USAGE, readTlsFlags, takeTlsFlag, type TlsFlags, type TlsMaterial } from "../tls-options.js";

const USAGE = `usage: callgate proxy --listen PROTO:HOST:PORT [--listen ...] --next-hop PROTO:HOST:PORT [--no-record-route] [--stats-interval SECONDS]
  PROTO is udp, tcp, tls, ws or wss (tls and wss need --tls-cert and --tls-key).
${LIMIT_USAGE}
${TLS_USAGE}`;

interface ProxyArgs {
  listen: TransportAddress[];
  nextHop: TransportAddress;
  recordRoute: boolean;
  statsInterval: number;
  limits: Partial<ConnectionLimits>;
  tls?: TlsMaterial;
}

function parseArgs(args: string[]): ProxyArgs | string {
  const listen: TransportAddress[] = [];
  let nextHop: TransportAddress | undefined;
  let recordRoute = true;
  let statsInterval = 0;
  const limits: Partial<ConnectionLimits> = {};
  const tlsFlags: TlsFlags = {};
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
      else if (LIMIT_FLAGS[a] !== undefined) {
        const problem = setLimitFlag(limits, a, value());
        if (problem) return `${problem.message}\n${USAGE}`;
      }
      else if (a === "--stats-interval") statsInterval = Number(value());
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
  return { listen, nextHop, recordRoute, statsInterval, limits, ...(tls ? { tls } : {}) };
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
  const server = await startProxyServer({
    listen: parsed.listen,
    hook,
    recordRoute: parsed.recordRoute,
    connectionLimits: parsed.limits,
    ...(parsed.tls ? { tls: { secureContext: { cert: parsed.tls.certificatePem, key: parsed.tls.keyPem, ...(parsed.tls.caPem ? { ca: parsed.tls.caPem } : {}) }, requireClientCert: parsed.tls.requireClientCert } } : {}),
    observer: { onError: (_ctx, err) => console.error(`callgate proxy: ${err.message}`) },
  });
  const where = server.addresses.map((a) => `${a.protocol}:${a.host}:${a.port}`).join(" ");
  console.log(`callgate proxy listening on ${where}, next hop ${nextHop.protocol}:${nextHop.host}:${nextHop.port}`);
  const timer = parsed.statsInterval > 0 ? setInterval(() => console.log(JSON.stringify(server.transport.stats)), parsed.statsInterval * 1000) : undefined;
  await new Promise<void>((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
  if (timer) clearInterval(timer);
  await server.close();
  console.log(JSON.stringify({ stats: server.transport.stats }));
  return 0;
}
