// Prometheus metrics of one role process (prom-client): one registry per process, the same metric names in
// every role, and an HTTP listener that serves GET /metrics (text exposition format 0.0.4).
import { createServer, type Server } from "node:http";
import { Counter, Gauge, Registry, collectDefaultMetrics } from "prom-client";

/** The Prometheus metrics of one role process, every one labelled with the role. */
export class RoleMetrics {
  readonly registry = new Registry();
  /** Calls ended, by outcome (answered, refused, failed, …). */
  readonly calls: Counter<"outcome">;
  /** Policy decisions taken, by kind (aaa, ldp, install, …) and verdict. */
  readonly decisions: Counter<"kind" | "verdict">;
  /** Input dropped or refused, by protocol and cause. */
  readonly drops: Counter<"proto" | "cause">;
  /** Call detail records written durably. */
  readonly cdrsWritten: Counter;
  /** Messages retried (usage reports, retransmissions), by what was retried. */
  readonly retries: Counter<"what">;
  /** Current size of a queue, by queue name. */
  readonly queueSize: Gauge<"queue">;
  /** Open COPS request states (at a PDP or PEP), by peer. */
  readonly requestStates: Gauge<"peer">;
  /** Open connections per listener. */
  readonly connections: Gauge<"listener">;

  constructor(role: string, options: { defaultMetrics?: boolean } = {}) {
    this.registry.setDefaultLabels({ role });
    // Process memory, CPU, event-loop lag, heap: prom-client's default collectors.
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: "callgate_" });
    const registers = [this.registry];
    this.calls = new Counter({ name: "callgate_calls_total", help: "Calls ended, by outcome", labelNames: ["outcome"], registers });
    this.decisions = new Counter({ name: "callgate_decisions_total", help: "Policy decisions, by kind and verdict", labelNames: ["kind", "verdict"], registers });
    this.drops = new Counter({ name: "callgate_drops_total", help: "Input dropped or refused, by protocol and cause", labelNames: ["proto", "cause"], registers });
    this.cdrsWritten = new Counter({ name: "callgate_cdrs_written_total", help: "Call detail records written durably", registers });
    this.retries = new Counter({ name: "callgate_retries_total", help: "Retries, by what was retried", labelNames: ["what"], registers });
    this.queueSize = new Gauge({ name: "callgate_queue_size", help: "Current queue sizes", labelNames: ["queue"], registers });
    this.requestStates = new Gauge({ name: "callgate_cops_request_states", help: "Open COPS request states, by peer", labelNames: ["peer"], registers });
    this.connections = new Gauge({ name: "callgate_connections", help: "Open connections, by listener", labelNames: ["listener"], registers });
  }

  /** The exposition text of every metric of this registry. */
  text(): Promise<string> {
    return this.registry.metrics();
  }
}

export interface MetricsServer {
  readonly address: { host: string; port: number };
  close(): Promise<void>;
}

/** Serves GET /metrics on host:port (port 0 picks one); anything else gets 404. */
export function startMetricsServer(metrics: RoleMetrics, host: string, port: number): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    if (req.method !== "GET" || (req.url ?? "").split("?")[0] !== "/metrics") {
      res.writeHead(404).end();
      return;
    }
    metrics.text().then(
      (body) => res.writeHead(200, { "content-type": metrics.registry.contentType }).end(body),
      (err: unknown) => res.writeHead(500).end(String(err)),
    );
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 10_000;
  server.maxConnections = 64;
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      const a = server.address() as { address: string; port: number };
      resolve({
        address: { host: a.address, port: a.port },
        close: () => new Promise<void>((done) => server.close(() => done())),
      });
    });
  });
}
