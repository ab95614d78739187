// `callgate clearinghouse`: run the OSP clearinghouse over HTTP, or query/export its CDRs.
//   callgate clearinghouse --listen http://127.0.0.1:5045/osp --routes FILE [--db FILE | --memory]
//                          [--sign-key PEM --sign-cert PEM] [--tls-key PEM --tls-cert PEM [--tls-ca PEM] [--tls-require-client-cert]] [--spelling toolkit|etsi]
//   callgate clearinghouse cdrs --db FILE [--format csv|json] [--since ISO] [--until ISO] [--transaction ID] [--limit N]
import { parseArgs } from "node:util";
import type { CdrQuery, CdrStore } from "../../adapters/cdr-store.js";
import { cdrsToCsv } from "../../adapters/cdr-store.js";
import { MemoryCdrStore } from "../../adapters/cdr-store-memory.js";
import { SqliteCdrStore } from "../../adapters/cdr-store-sqlite.js";
import { Clearinghouse } from "../../roles/clearinghouse.js";
import { parseRoutesYaml } from "../../roles/clearinghouse-routes.js";
import { startClearinghouseServer } from "../../roles/clearinghouse-server.js";
import { LIMIT_PARSE_OPTIONS, LIMIT_USAGE, limitsFromValues } from "../limit-options.js";
import { readTlsFlags } from "../tls-options.js";
import { checkLogLevel, countCdrsWritten, parseHostPort, startOperations } from "../../flow/operations.js";
import { checkReadableFile, InputFileError, readInputFile } from "../../replay/input-file.js";
import { locateYamlField } from "../yaml-location.js";

const USAGE = `usage: callgate clearinghouse --listen URL --routes FILE [--db FILE | --memory] [--sign-key PEM --sign-cert PEM]
                              [--tls-key PEM --tls-cert PEM [--tls-ca PEM] [--tls-require-client-cert]] [--spelling toolkit|etsi] [--log-level LEVEL] [--metrics HOST:PORT]
       callgate clearinghouse cdrs --db FILE [--format csv|json] [--since ISO] [--until ISO] [--transaction ID] [--limit N]
${LIMIT_USAGE}`;

/** A problem with a file the command was given (unreadable, invalid): reported without the usage text. */
class FileProblem extends Error {}

export async function run(args: string[]): Promise<number> {
  if (args.includes("--help") || args.includes("-h")) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  try {
    if (args[0] === "cdrs") return await exportCdrs(args.slice(1));
    return await serve(args);
  } catch (err) {
    const fileProblem = err instanceof InputFileError || err instanceof FileProblem;
    process.stderr.write(`callgate clearinghouse: ${err instanceof Error ? err.message : String(err)}\n${fileProblem ? "" : `${USAGE}\n`}`);
    return 2;
  }
}

/** The routes file, or a FileProblem at FILE:LINE:COLUMN naming what is wrong. */
function readRoutes(path: string): ReturnType<typeof parseRoutesYaml> {
  const text = readInputFile(path, "utf8");
  try {
    return parseRoutesYaml(text);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    const yamlAt = (err as { linePos?: Array<{ line: number; col: number }> }).linePos?.[0];
    if (yamlAt) throw new FileProblem(`${path}:${yamlAt.line}:${yamlAt.col}: YAML: ${(message.split("\n")[0] ?? "").replace(/ at line \d+, column \d+:?$/, "")}`);
    const field = /^(routes\[\d+\][^:\s]*)/.exec(message)?.[1];
    const at = field !== undefined ? locateYamlField(text, field) : undefined;
    throw new FileProblem(`${path}${at ? `:${at.line}:${at.column}` : ""}: ${message}`);
  }
}


function parseTime(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const t = Date.parse(value);
  if (Number.isNaN(t)) throw new Error(`--${name}: '${value}' is not a date-time`);
  return t;
}

async function exportCdrs(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      db: { type: "string" },
      format: { type: "string", default: "csv" },
      since: { type: "string" },
      until: { type: "string" },
      transaction: { type: "string" },
      limit: { type: "string" },
    },
    strict: true,
  });
  if (!values.db) throw new Error("--db FILE is required");
  if (values.format !== "csv" && values.format !== "json") throw new Error("--format must be csv or json");
  const query: CdrQuery = {};
  const since = parseTime(values.since, "since");
  const until = parseTime(values.until, "until");
  if (since !== undefined) query.since = since;
  if (until !== undefined) query.until = until;
  if (values.transaction !== undefined) query.transactionId = values.transaction;
  if (values.limit !== undefined) {
    const n = Number(values.limit);
    if (!Number.isInteger(n) || n < 0) throw new Error("--limit must be a non-negative integer");
    query.limit = n;
  }
  checkReadableFile(values.db); // opening a missing SQLite file would create it
  let store: SqliteCdrStore;
  try {
    store = new SqliteCdrStore(values.db, { readOnly: true }); // a query neither migrates nor writes the file
  } catch (err) {
    throw new FileProblem(`${values.db}: ${err instanceof Error ? err.message : String(err)}`);
  }
  try {
    let records;
    try {
      records = await store.query(query);
    } catch (err) {
      throw new FileProblem(`${values.db}: not a CDR database (${err instanceof Error ? err.message : String(err)})`);
    }
    process.stdout.write(values.format === "csv" ? cdrsToCsv(records) : `${JSON.stringify(records, null, 2)}\n`);
  } finally {
    await store.close();
  }
  return 0;
}

async function serve(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      listen: { type: "string", default: "http://127.0.0.1:5045/osp" },
      routes: { type: "string" },
      db: { type: "string" },
      memory: { type: "boolean", default: false },
      "sign-key": { type: "string" },
      "sign-cert": { type: "string" },
      "tls-key": { type: "string" },
      "tls-cert": { type: "string" },
      "tls-ca": { type: "string" },
      "tls-require-client-cert": { type: "boolean", default: false },
      spelling: { type: "string", default: "toolkit" },
      ...LIMIT_PARSE_OPTIONS,
      "log-level": { type: "string" },
      metrics: { type: "string" },
    },
    strict: true,
  });
  const levelProblem = checkLogLevel(values["log-level"]);
  if (levelProblem) throw levelProblem;
  const metricsAt = values.metrics !== undefined ? parseHostPort(values.metrics, "--metrics") : undefined;
  if (metricsAt instanceof Error) throw metricsAt;
  let listenUrl: URL;
  try {
    listenUrl = new URL(values.listen);
  } catch {
    throw new Error(`--listen wants an http(s) URL, got '${values.listen}'`);
  }
  if (listenUrl.protocol !== "http:" && listenUrl.protocol !== "https:") throw new Error(`--listen wants an http(s) URL, got '${values.listen}'`);
  const listenPort = listenUrl.port === "" ? (listenUrl.protocol === "https:" ? 443 : 80) : Number(listenUrl.port);
  if (metricsAt && metricsAt.port === listenPort && metricsAt.port !== 0 && (metricsAt.host === listenUrl.hostname || metricsAt.host === "0.0.0.0"))
    throw new Error(`--metrics ${values.metrics ?? ""} is the OSP address --listen ${values.listen}: give the metrics their own port`);
  if (!values.routes) throw new Error("--routes FILE is required");
  const connectionLimits = limitsFromValues(values);
  if (values.spelling !== "toolkit" && values.spelling !== "etsi") throw new Error("--spelling must be toolkit or etsi");
  if (Boolean(values["sign-key"]) !== Boolean(values["sign-cert"])) throw new Error("--sign-key and --sign-cert go together");
  // HTTPS (TS 101 321 §5); with --tls-require-client-cert only policy servers holding a certificate from --tls-ca are served.
  const tls = readTlsFlags({ cert: values["tls-cert"], key: values["tls-key"], ca: values["tls-ca"], requireClientCert: values["tls-require-client-cert"] });
  if (tls && !values.listen.startsWith("https:")) throw new Error(`--tls-cert: --listen ${values.listen} is not an https: URL`);
  if (!tls && values.listen.startsWith("https:")) throw new Error(`--listen ${values.listen} needs --tls-cert and --tls-key`);
  const routesFile = readRoutes(values.routes);
  const store: CdrStore = values.memory ? new MemoryCdrStore() : new SqliteCdrStore(values.db ?? "clearinghouse-cdr.sqlite");
  const clearinghouse = new Clearinghouse({
    routes: routesFile.routes,
    store,
    spelling: values.spelling,
    ...(routesFile.tokenLifetimeSeconds !== undefined ? { tokenLifetimeMs: routesFile.tokenLifetimeSeconds * 1000 } : {}),
    ...(values["sign-key"] && values["sign-cert"]
      ? { signer: { privateKeyPem: readInputFile(values["sign-key"], "utf8"), certificatePem: readInputFile(values["sign-cert"], "utf8") } }
      : {}),
  });
  const ops = await startOperations({ name: "CH", ...(values["log-level"] !== undefined ? { logLevel: values["log-level"] } : {}), ...(metricsAt ? { metrics: metricsAt } : {}), callRoles: [] }).catch(async (err: unknown) => {
    await store.close();
    throw new Error(`--metrics ${values.metrics ?? ""}: cannot listen (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  });
  countCdrsWritten(store, () => ops.metrics.cdrsWritten.inc());
  const server = await startClearinghouseServer(clearinghouse, {
    url: values.listen,
    connectionLimits,
    onDrop: (cause, detail) => ops.drops.drop(`OSP:${cause}`, { detail }),
    ...(tls ? { tls: { keyPem: tls.keyPem, certificatePem: tls.certificatePem, requireClientCert: tls.requireClientCert, ...(tls.caPem ? { caPem: tls.caPem } : {}) } } : {}),
  }).catch(async (err: unknown) => {
    await ops.close();
    await store.close();
    throw err;
  });
  ops.logger.info({ url: server.url, routes: routesFile.routes.length, cdrs: values.memory ? "memory" : (values.db ?? "clearinghouse-cdr.sqlite"), ...(ops.metricsAddress ? { metrics: ops.metricsAddress } : {}) }, "clearinghouse started");
  process.stdout.write(`clearinghouse listening on ${server.url} (${routesFile.routes.length} routes, CDRs in ${values.memory ? "memory" : (values.db ?? "clearinghouse-cdr.sqlite")})${ops.metricsAddress ? `, metrics http://${ops.metricsAddress}/metrics` : ""}\n`);
  await new Promise<void>((resolve) => {
    const stop = (): void => resolve();
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
  await server.close();
  await store.close();
  ops.logger.info({ cdrsWritten: (await ops.metrics.cdrsWritten.get()).values[0]?.value ?? 0 }, "clearinghouse stopped");
  await ops.close();
  return 0;
}
