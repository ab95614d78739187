// `callgate radius-proxy --config FILE`: a RADIUS proxy for plain NAS clients that shares the master provider's
// access capacity with client providers by realm (see docs/auth.md).
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { parseArgs } from "node:util";
import { CredentialStore } from "../../auth/credential-store.js";
import { RadiusRealmProxy } from "../../auth/radius-realm-proxy.js";
import { parseRadiusProxyConfig } from "../../auth/realm-table.js";
import { checkLogLevel, parseHostPort, startOperations } from "../../flow/operations.js";

const USAGE = `usage: callgate radius-proxy --config FILE [--log-level LEVEL] [--metrics HOST:PORT] [--accounting-backlog N]
  --config FILE             YAML: listen, nas (address, secret), master (realms; credentials FILE and/or radius
                            server), clients (name, realms, virtualIdentity, capacity, radius server), journal FILE
                            (accounting spools beside it: FILE.acct-master.spool, FILE.acct-client-NAME.spool)
  --log-level LEVEL         trace | debug | info | warn | error | fatal | silent
  --metrics HOST:PORT       serve GET /metrics
  --accounting-backlog N    records an accounting server may have unanswered before a NAS's new records for it
                            go unanswered (default 100000)`;

export async function run(args: string[]): Promise<number> {
  let values: { config?: string; "log-level"?: string; metrics?: string; "accounting-backlog"?: string; help?: boolean };
  try {
    values = parseArgs({
      args,
      options: {
        config: { type: "string" },
        "log-level": { type: "string" },
        metrics: { type: "string" },
        "accounting-backlog": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
    }).values;
  } catch (err) {
    process.stderr.write(`callgate radius-proxy: ${err instanceof Error ? err.message : String(err)}\n${USAGE}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const fail = (message: string): number => {
    process.stderr.write(`callgate radius-proxy: ${message}\n${USAGE}\n`);
    return 2;
  };
  if (!values.config) return fail("--config FILE is required");
  const levelProblem = checkLogLevel(values["log-level"]);
  if (levelProblem) return fail(levelProblem.message);
  const metricsAt = values.metrics !== undefined ? parseHostPort(values.metrics, "--metrics") : undefined;
  if (metricsAt instanceof Error) return fail(metricsAt.message);
  const backlogText = values["accounting-backlog"];
  const backlog = backlogText === undefined ? undefined : Number(backlogText);
  if (backlog !== undefined && (!/^\d+$/.test(backlogText!) || backlog < 1)) return fail(`--accounting-backlog: '${backlogText}' is not a whole number of records, 1 or more`);
  let config;
  let credentials: CredentialStore | undefined;
  try {
    config = parseRadiusProxyConfig(readFileSync(values.config, "utf8"));
    // Files the configuration names are found beside it.
    const here = dirname(resolve(values.config));
    if (config.master.credentials) config.master.credentials = resolve(here, config.master.credentials);
    if (config.journal) config.journal = resolve(here, config.journal);
    if (config.master.credentials) credentials = CredentialStore.parse(readFileSync(config.master.credentials, "utf8"));
  } catch (err) {
    return fail(`${values.config}: ${err instanceof Error ? err.message : String(err)}`);
  }
  const ops = await startOperations({
    name: "radius-proxy",
    ...(values["log-level"] !== undefined ? { logLevel: values["log-level"] } : {}),
    ...(metricsAt ? { metrics: metricsAt } : {}),
    callRoles: [],
  });
  let proxy: RadiusRealmProxy;
  try {
    proxy = await RadiusRealmProxy.start({
      config,
      ...(credentials ? { credentials } : {}),
      logger: ops.logger,
      drops: ops.drops,
      ...(backlog !== undefined ? { accountingBacklogLimit: backlog } : {}),
      onDecision: (decision) => ops.metrics.decisions.inc({ kind: "realm", verdict: decision }),
    });
  } catch (err) {
    await ops.close();
    return fail(`cannot listen: ${err instanceof Error ? err.message : String(err)}`);
  }
  const auth = proxy.authAddress;
  const acct = proxy.acctAddress;
  ops.watch({
    queues: () => ({
      "radius-proxy in progress": proxy.machine.inProgress,
      ...Object.fromEntries(Object.entries(proxy.accountingBacklog()).map(([name, n]) => [`radius-proxy accounting to ${name}`, n])),
    }),
  });
  ops.logger.info({ auth: `${auth.address}:${auth.port}`, acct: `${acct.address}:${acct.port}`, clients: config.clients.length }, "radius-proxy started");
  process.stdout.write(
    `radius-proxy listening on ${auth.address}:${auth.port} (auth) and ${acct.address}:${acct.port} (acct); master realms ${config.master.realms.join(", ")}; ` +
      `client providers ${config.clients.map((c) => `${c.name} (${c.realms.join(", ")})`).join(", ") || "none"}${ops.metricsAddress ? `; metrics http://${ops.metricsAddress}/metrics` : ""}\n`,
  );
  await new Promise<void>((resolve) => {
    process.once("SIGINT", () => resolve());
    process.once("SIGTERM", () => resolve());
  });
  await proxy.close();
  await ops.close();
  return 0;
}
