// `callgate lab`: SIP1, POL1, R1, CH, SIP2, POL2, R2 and an answering UAS on loopback, until SIGINT/SIGTERM,
// so SIPp or a softphone can call through SIP1. Prints the addresses, and on exit counts of what went through.
// It keeps no message history unless asked (--keep N, --ladder, --record FILE), so it can run for days.
import { createWriteStream, type WriteStream } from "node:fs";
import { parseArgs } from "node:util";
import { Ajv } from "ajv";
import { parse as parseYaml } from "yaml";
import { recordToJsonLine } from "../../drivers/message-record.js";
import { LAB_CALLER, startLab, type LabStats } from "../../flow/lab.js";
import { checkLogLevel, countCdrsWritten, parseHostPort, startOperations } from "../../flow/operations.js";
import { colorWanted, renderLadderText } from "../../replay/ladder-text.js";
import { LIMIT_PARSE_OPTIONS, LIMIT_USAGE, limitsFromValues } from "../limit-options.js";
import { TLS_USAGE, readTlsFlags } from "../tls-options.js";
import { labTls } from "../../flow/deploy-tls.js";
import { startCallerAuthentication, type CallerAuthentication } from "../../auth/caller-auth.js";
import type { DigestAlgorithm } from "../../auth/credential-store.js";
import type { ServedRealms } from "../../auth/realm-config.js";
import { loadCallRealmsFile } from "../realms-file.js";
import { REINVITES_SCHEMA } from "../../replay/scenario-schema.js";
import type { PlannedMediaChange } from "../../flow/run-types.js";

/** Messages --ladder keeps when --keep does not say. */
const LADDER_KEEP = 10_000;

const USAGE = `usage: callgate lab [--sip-port N] [--ws-port N] [--answer-delay MS] [--ladder] [--no-color] [--keep N] [--record FILE]
                  [--cdr-db FILE] [--log-level LEVEL] [--metrics HOST:PORT] [--seed N] [--media-address ADDR] [--100rel]
                  [--reinvites LIST]
  --sip-port N          UDP port of SIP1 on 127.0.0.1 (default: an ephemeral port)
  --ws-port N           SIP1 also takes SIP over WebSocket (RFC 7118) on this port of 127.0.0.1, wss with
                        --tls-cert (0: an ephemeral port; default: no WebSocket listener)
  --answer-delay MS     the UAS answers (200 OK) this long after its 180 Ringing (default 500)
  --ladder              on exit, print the message ladder of the calls among the kept messages
                        (keeps the last ${LADDER_KEEP} messages unless --keep says otherwise)
  --no-color            no ANSI colours in the ladder
  --keep N              keep the last N messages in memory (default 0: none)
  --record FILE         append every message to FILE as a JSON line {t, proto, from, to, msg, callId, bytes}
  --cdr-db FILE         keep the clearinghouse's CDRs in this SQLite file (default: a temporary file, removed on exit)
  --log-level LEVEL     trace, debug, info, warn, error, fatal or silent (default info; JSON lines on stderr)
  --metrics HOST:PORT   serve Prometheus metrics at http://HOST:PORT/metrics
  --seed N              repeat the roles' tags and branches of an earlier run (default: fresh ones every start)
  --media-address ADDR  address in the UAS's SDP (default 127.0.0.1)
  --100rel              the UAS sends its 180 reliably (RFC 3262) when the caller supports 100rel
  --reinvites LIST      the UAS's own new offers in every call it answers, as a deploy file's calls.reinvites,
                        e.g. '[{by: callee, afterMs: 500, hold: true}]' (by: callee only; method INVITE or UPDATE,
                        codec, mediaAddress optional); the first comes afterMs after the ACK
  --credentials FILE    callers must authenticate (Digest, 407 from SIP1); POL1 checks them against FILE
                        (username:realm:ALGORITHM:HA1 lines, docs/auth.md)
  --auth-radius udp:HOST[:PORT] --auth-radius-secret SECRET
                        the same, checked by a RADIUS server (RFC 5090; port 1812 by default)
  --auth-realm REALM    the realm SIP1 challenges with (default sip1.example.com)
  --auth-algorithms L   Digest algorithms offered, in order (default SHA-256,MD5)
  --realms FILE         POL1 holds callers of client providers' realms to the capacity they rent (ports, time,
                        credit, suspension; docs/auth.md): no free port 503, an unknown realm 403; FILE's
                        journal: the period's time and credit spent outlive the lab
${LIMIT_USAGE}
${TLS_USAGE}
  With --tls-cert every link between the roles runs over TLS (SIP from SIP1 on, COPS, OSP over HTTPS); the caller
  still reaches SIP1 over UDP. The one certificate serves every role, so it must name each (DNS sip1, pol1, r1,
  ch, sip2, pol2, r2, uas), and --tls-ca is required: the roles verify each other against it.`;

function fail(message: string): number {
  process.stderr.write(`callgate lab: ${message}\n${USAGE}\n`);
  return 2;
}

const validReinvites = new Ajv({ allErrors: true, strict: true }).compile(REINVITES_SCHEMA);

/** --reinvites: a YAML list as a deploy file's calls.reinvites, every entry by the callee (the caller is outside). */
function reinvitesValue(text: string | undefined): PlannedMediaChange[] | undefined | Error {
  if (text === undefined) return undefined;
  let list: unknown;
  try {
    list = parseYaml(text);
  } catch (err) {
    return new Error(`--reinvites is not YAML: ${err instanceof Error ? err.message.split("\n")[0] : String(err)}`);
  }
  if (!validReinvites(list)) return new Error(`--reinvites: ${(validReinvites.errors ?? []).map((e) => `${e.instancePath || "list"} ${e.message ?? ""}`).join("; ")}`);
  const entries = list as PlannedMediaChange[];
  const byCaller = entries.findIndex((r) => r.by !== "callee");
  if (byCaller >= 0) return new Error(`--reinvites: entry ${byCaller} is by: caller, but the lab's caller is outside it (by: callee only)`);
  return entries;
}

function intValue(text: string | undefined, name: string, min: number, max: number): number | undefined | Error {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < min || n > max) return new Error(`${name} wants an integer from ${min} to ${max}, got '${text}'`);
  return n;
}

function summary(stats: LabStats): string[] {
  const finals = Object.entries(stats.finalsToCaller).sort(([a], [b]) => a.localeCompare(b));
  return [
    `${stats.callsFromOutside} call(s) from outside, ${stats.messages} messages`,
    ...(finals.length > 0 ? [`  final responses to the caller: ${finals.map(([label, n]) => `${n} × ${label}`).join(", ")}`] : []),
    ...Object.entries(stats.responsesByMethod)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([method, labels]) => `  ${method}: ${Object.entries(labels).sort(([a], [b]) => a.localeCompare(b)).map(([label, n]) => `${n} × ${label}`).join(", ")}`),
    stats.callsNotEnded.length === 0
      ? "  every answered call ended"
      : `  ${stats.callsNotEnded.length} call(s) answered and not ended: ${stats.callsNotEnded.slice(0, 10).join(", ")}${stats.callsNotEnded.length > 10 ? ", …" : ""}`,
    `  media refused: ${stats.mediaRefused}`,
  ];
}

function closeStream(out: WriteStream | undefined): Promise<void> {
  return new Promise((resolve) => (out ? out.end(() => resolve()) : resolve()));
}

export async function run(args: string[]): Promise<number> {
  if (args.includes("--help") || args.includes("-h")) {
    console.log(USAGE);
    return 0;
  }
  let values;
  try {
    values = parseArgs({
      args,
      strict: true,
      options: {
        "sip-port": { type: "string" },
        "ws-port": { type: "string" },
        "answer-delay": { type: "string" },
        ladder: { type: "boolean", default: false },
        "no-color": { type: "boolean", default: false },
        keep: { type: "string" },
        record: { type: "string" },
        "cdr-db": { type: "string" },
        "log-level": { type: "string" },
        metrics: { type: "string" },
        seed: { type: "string" },
        "media-address": { type: "string" },
        "100rel": { type: "boolean", default: false },
        reinvites: { type: "string" },
        credentials: { type: "string" },
        "auth-radius": { type: "string" },
        "auth-radius-secret": { type: "string" },
        "auth-realm": { type: "string" },
        "auth-algorithms": { type: "string" },
        realms: { type: "string" },
        ...LIMIT_PARSE_OPTIONS,
        "tls-cert": { type: "string" },
        "tls-key": { type: "string" },
        "tls-ca": { type: "string" },
        "tls-require-client-cert": { type: "boolean", default: false },
      },
    }).values;
  } catch (err) {
    return fail(err instanceof Error ? err.message : String(err));
  }
  const sipPort = intValue(values["sip-port"], "--sip-port", 1, 65535);
  const wsPort = intValue(values["ws-port"], "--ws-port", 0, 65535);
  const answerDelayMs = intValue(values["answer-delay"], "--answer-delay", 0, 3_600_000);
  const keep = intValue(values.keep, "--keep", 0, 10_000_000);
  const seed = intValue(values.seed, "--seed", 0, 2 ** 31 - 1);
  if (seed instanceof Error) return fail(seed.message);
  const reinvites = reinvitesValue(values.reinvites);
  if (reinvites instanceof Error) return fail(reinvites.message);
  const mediaAddress = values["media-address"];
  if (mediaAddress !== undefined && (mediaAddress.length === 0 || /\s/.test(mediaAddress))) return fail(`--media-address wants an address, got '${mediaAddress}'`);
  const metricsAt = values.metrics !== undefined ? parseHostPort(values.metrics, "--metrics") : undefined;
  const level = checkLogLevel(values["log-level"]);
  for (const v of [sipPort, wsPort, answerDelayMs, keep, metricsAt, level]) if (v instanceof Error) return fail(v.message);
  if (metricsAt && !(metricsAt instanceof Error) && typeof sipPort === "number" && metricsAt.port === sipPort && ["127.0.0.1", "0.0.0.0", "localhost"].includes(metricsAt.host))
    return fail(`--metrics ${values.metrics ?? ""} is SIP1's address (--sip-port ${sipPort}): give the metrics their own port`);
  if (metricsAt && !(metricsAt instanceof Error) && typeof wsPort === "number" && wsPort !== 0 && metricsAt.port === wsPort && ["127.0.0.1", "0.0.0.0", "localhost"].includes(metricsAt.host))
    return fail(`--metrics ${values.metrics ?? ""} is SIP1's WebSocket listener (--ws-port ${wsPort}): give the metrics their own port`);
  const keepRecords = typeof keep === "number" ? keep : values.ladder ? LADDER_KEEP : 0;
  let limits;
  try {
    limits = limitsFromValues(values);
  } catch (err) {
    return fail(err instanceof Error ? err.message : String(err));
  }
  let tls;
  try {
    const material = readTlsFlags({ cert: values["tls-cert"], key: values["tls-key"], ca: values["tls-ca"], requireClientCert: values["tls-require-client-cert"] });
    if (material && material.caPem === undefined) return fail("--tls-cert needs --tls-ca in the lab: its roles verify each other's certificates against it");
    tls = material ? { ...material, caPem: material.caPem ?? "" } : undefined;
  } catch (err) {
    return fail(err instanceof Error ? err.message : String(err));
  }
  if (tls) {
    try {
      labTls(tls);
    } catch (err) {
      return fail(`--tls-cert ${values["tls-cert"] ?? ""}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  let realms: ServedRealms | undefined;
  try {
    if (values.realms !== undefined) realms = loadCallRealmsFile(values.realms);
  } catch (err) {
    return fail(err instanceof Error ? err.message : String(err));
  }

  let auth: CallerAuthentication | undefined;
  if (values.credentials !== undefined || values["auth-radius"] !== undefined) {
    let radius;
    if (values["auth-radius"] !== undefined) {
      const m = /^udp:([^:[\]]+|\[[0-9a-fA-F:.]+\])(?::(\d{1,5}))?$/.exec(values["auth-radius"]);
      if (!m) return fail(`--auth-radius wants udp:HOST[:PORT], got '${values["auth-radius"]}'`);
      if (m[2] !== undefined && (Number(m[2]) < 1 || Number(m[2]) > 65535)) return fail(`--auth-radius: port ${m[2]} is outside 1-65535`);
      if (values["auth-radius-secret"] === undefined) return fail("--auth-radius needs --auth-radius-secret");
      radius = { address: m[1]!.replace(/^\[|\]$/g, ""), port: m[2] === undefined ? 1812 : Number(m[2]), secret: values["auth-radius-secret"] };
    }
    try {
      auth = await startCallerAuthentication({
        realm: values["auth-realm"] ?? "sip1.example.com",
        ...(values.credentials !== undefined ? { credentials: values.credentials } : {}),
        ...(radius ? { radius } : {}),
        ...(values["auth-algorithms"] !== undefined ? { algorithms: values["auth-algorithms"].split(",") as DigestAlgorithm[] } : {}),
      });
    } catch (err) {
      return fail(err instanceof Error ? err.message : String(err));
    }
  } else if (values["auth-realm"] !== undefined || values["auth-algorithms"] !== undefined || values["auth-radius-secret"] !== undefined) {
    return fail("--auth-realm, --auth-algorithms and --auth-radius-secret need --credentials or --auth-radius");
  }

  let ops;
  try {
    ops = await startOperations({
      name: "lab",
      ...(values["log-level"] !== undefined ? { logLevel: values["log-level"] } : {}),
      ...(metricsAt && !(metricsAt instanceof Error) ? { metrics: metricsAt } : {}),
      callRoles: ["SIP1"],
    });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    process.stderr.write(`callgate lab: --metrics ${values.metrics ?? ""}: cannot listen (${e.code ?? e.message})\n`);
    await auth?.close();
    return 1;
  }
  let out: WriteStream | undefined;
  let lab;
  try {
    out = values.record !== undefined ? createWriteStream(values.record, { flags: "a" }) : undefined;
    const sink = out;
    sink?.on("error", (err) => ops.logger.error({ err: err.message, file: values.record }, "--record: cannot write"));
    lab = await startLab({
      ...(typeof sipPort === "number" ? { sipPort } : {}),
      ...(typeof wsPort === "number" ? { wsPort } : {}),
      ...(typeof answerDelayMs === "number" ? { answerDelayMs } : {}),
      ...(seed !== undefined ? { seed } : {}),
      ...(mediaAddress !== undefined ? { mediaAddress } : {}),
      ...(values["100rel"] ? { reliableProvisionals: true } : {}),
      ...(reinvites !== undefined ? { reinvites } : {}),
      ...(auth ? { auth } : {}),
      ...(realms ? { realms } : {}),
      keepRecords,
      ...(values["cdr-db"] !== undefined ? { cdrDb: values["cdr-db"] } : {}),
      ...(sink ? { onRecord: (r) => sink.write(`${recordToJsonLine(r)}\n`) } : {}),
      onEvent: (e) => ops.onEvent(e),
      onError: (where, err) => ops.onError(where, err),
      limits,
      ...(tls ? { tls } : {}),
      onDrop: (proto, cause, detail) => ops.drops.drop(`${proto}:${cause}`, { detail }),
    });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    ops.logger.fatal({ err: e.message }, "lab cannot start");
    process.stderr.write(`callgate lab: cannot start: ${e.code ?? e.message}\n`);
    await closeStream(out);
    await ops.close();
    await auth?.close();
    return 1;
  }
  const topo = lab.topology;
  countCdrsWritten(lab.cdrStore, () => ops.metrics.cdrsWritten.inc());
  ops.watch({
    requestStates: () => ({ SIP1: topo.sip1.copsRequestStates, SIP2: topo.sip2.copsRequestStates, POL1: topo.pol1.copsRequestStates, POL2: topo.pol2.copsRequestStates }),
    queues: () => ({ "POL1 usage backlog": topo.pol1.usageBacklog, "POL2 usage backlog": topo.pol2.usageBacklog }),
    connections: () => lab.connections(),
  });

  const width = Math.max(...Object.keys(lab.endpoints).map((r) => r.length));
  const lines = [`callgate lab: every role on 127.0.0.1 (${tls ? "SIP/TLS between the roles, COPS/TLS, OSP/HTTPS" : "SIP/UDP, COPS/TCP, OSP/HTTP"}); calls enter at SIP1${tls ? " over UDP" : ""}`];
  for (const [role, ep] of Object.entries(lab.endpoints)) {
    const parts = [ep.sip ? `sip ${ep.sip}` : "", ep.ws ? `ws ${ep.ws}` : "", ep.cops ? `cops ${ep.cops}` : "", ep.osp ? `osp ${ep.osp}` : ""].filter(Boolean);
    lines.push(`  ${role.padEnd(width)}  ${parts.join("  ") || "(COPS client only)"}`);
  }
  if (ops.metricsAddress) lines.push(`  metrics  http://${ops.metricsAddress}/metrics`);
  const sip1 = lab.endpoints.SIP1?.sip ?? "";
  lines.push(`example: sipp -sn uac -m 5 -r 5 -s 15551234567 ${sip1} -i 127.0.0.1`);
  if (lab.endpoints.SIP1?.ws) lines.push(`         a SIP over WebSocket client (sip.js, a browser) connects to ${lab.endpoints.SIP1.ws} (subprotocol "sip")`);
  lines.push("Ctrl-C (SIGINT) or SIGTERM stops the lab.");
  ops.logger.info({ endpoints: lab.endpoints, ...(ops.metricsAddress ? { metrics: ops.metricsAddress } : {}), keep: keepRecords, record: values.record ?? null }, "lab started");
  console.log(lines.join("\n"));

  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      resolve();
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
  await lab.close();
  await auth?.close();
  await closeStream(out);
  await ops.close();

  const stats = lab.stats();
  if (values.ladder) {
    const records = lab.records;
    const color = colorWanted(process.stdout, process.env, values["no-color"]);
    const outside = new Set(records.filter((r) => r.from === LAB_CALLER).map((r) => r.callId));
    console.log(renderLadderText(records.filter((r) => outside.has(r.callId)), { color }));
  }
  console.log(summary(stats).join("\n"));
  ops.logger.info({ ...stats, drops: ops.drops.counts() }, "lab stopped");
  return 0;
}
