// RADIUS: codec rates (encode and decode of an Accounting Stop and of a PAP Access-Request), then accounting
// records per second to a FreeRADIUS on loopback (detail file written for each), from our UDP client and from
// radclient in the same run: ours over 4 source ports (RADIUS_BENCH_SOURCE_PORTS) of 64 requests in flight each,
// radclient with -p 256 (it opens source ports as it needs); each record answered before it counts. Then the
// accounting exporter (lib/accounting): the same number of records spooled (one fsync for the batch), sent 64
// in flight from one port, each answered and its answer appended to the spool.
// Run after `npm run build`: node bench/radius.mjs   (RADIUS_BENCH_RECORDS, BENCH_SECONDS to size it)
// Last line: {"ours_per_s":…, "radclient_per_s":…, "encode_acct_per_s":…, "decode_acct_per_s":…,
// "encode_access_per_s":…, "decode_access_per_s":…, "exporter_per_s":…, "records":…, "detail_records":…, "detail_duplicates_ours":…, "detail_duplicates_radclient":…}
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  RadiusCode,
  RadiusUdpClient,
  decodeRadiusPacket,
  encodeRadiusPacket,
  radiusAttribute,
} from "../dist/protocols/radius/index.js";
import { AccountingExporter } from "../dist/lib/accounting/exporter.js";
import { freeUdpPort, startFreeradiusLab } from "../test/support/freeradius-lab.mjs";

const SECRET = "bench-secret";
const seconds = Number(process.env.BENCH_SECONDS ?? 1);
const records = Number(process.env.RADIUS_BENCH_RECORDS ?? 20_000);

function stopAttributes(i) {
  return [
    radiusAttribute("Acct-Status-Type", "Stop"),
    radiusAttribute("Acct-Session-Id", `bench-${i};caller`),
    radiusAttribute("User-Name", "alice@example.com"),
    radiusAttribute("NAS-IP-Address", "127.0.0.1"),
    radiusAttribute("Calling-Station-Id", "sip:alice@example.com"),
    radiusAttribute("Called-Station-Id", "sip:bob@example.com"),
    radiusAttribute("Acct-Session-Time", 61),
    radiusAttribute("Acct-Input-Octets", 123456),
    radiusAttribute("Acct-Output-Octets", 654321),
    radiusAttribute("Acct-Terminate-Cause", "User-Request"),
    radiusAttribute("Event-Timestamp", 1_796_600_000),
  ];
}

function rate(name, fn) {
  let n = 0;
  const until = performance.now() + seconds * 1000;
  while (performance.now() < until) for (let k = 0; k < 1000; k++, n++) fn();
  const perS = Math.round(n / seconds);
  console.log(`${name.padEnd(22)} ${perS.toLocaleString("en")} /s`);
  return perS;
}

const acct = { code: RadiusCode.AccountingRequest, identifier: 1, authenticator: Buffer.alloc(16), attributes: stopAttributes(1) };
const access = {
  code: RadiusCode.AccessRequest,
  identifier: 2,
  authenticator: Buffer.alloc(16, 7),
  attributes: [radiusAttribute("User-Name", "alice"), radiusAttribute("User-Password", "wonderland"), { type: 80, kind: "string", value: Buffer.alloc(16) }],
};
const acctWire = encodeRadiusPacket(acct, SECRET);
const accessWire = encodeRadiusPacket(access, SECRET);
const codec = {
  encode_acct_per_s: rate("encode Accounting Stop", () => encodeRadiusPacket(acct, SECRET)),
  decode_acct_per_s: rate("decode Accounting Stop", () => decodeRadiusPacket(acctWire, SECRET)),
  encode_access_per_s: rate("encode Access-Request", () => encodeRadiusPacket(access, SECRET)),
  decode_access_per_s: rate("decode Access-Request", () => decodeRadiusPacket(accessWire, SECRET)),
};

const dir = mkdtempSync(join(tmpdir(), "radius-bench-"));
const acctPort = await freeUdpPort();
const lab = await startFreeradiusLab({ dir, secret: SECRET, authPort: await freeUdpPort(), acctPort });
try {
  // ours: all records handed to the client at once; it keeps 256 in flight and queues the rest
  const drops = {};
  const client = await RadiusUdpClient.open({ secret: SECRET, bindAddress: "127.0.0.1", sourcePorts: Number(process.env.RADIUS_BENCH_SOURCE_PORTS ?? 4), maxOutstandingPerServer: Number(process.env.RADIUS_BENCH_WINDOW ?? 64), identifierRestMs: process.env.RADIUS_BENCH_REST_MS ? Number(process.env.RADIUS_BENCH_REST_MS) : undefined, onDrop: (cause) => (drops[cause] = (drops[cause] ?? 0) + 1) });
  const t0 = performance.now();
  const answers = await Promise.all(
    Array.from({ length: records }, (_, i) => client.request({ address: "127.0.0.1", port: acctPort }, { code: RadiusCode.AccountingRequest, attributes: stopAttributes(i) })),
  );
  const ours = records / ((performance.now() - t0) / 1000);
  if (Object.keys(drops).length) console.log("our client dropped", drops);
  await client.close();
  if (answers.some((a) => a.code !== RadiusCode.AccountingResponse)) throw new Error("an answer was not Accounting-Response");

  // radclient: the same records from a file, 256 in parallel
  const file = join(dir, "records.txt");
  const lines = [];
  for (let i = 0; i < records; i++)
    lines.push(
      `Acct-Status-Type = Stop, Acct-Session-Id = "rc-${i};caller", User-Name = "alice@example.com", NAS-IP-Address = 127.0.0.1, ` +
        `Calling-Station-Id = "sip:alice@example.com", Called-Station-Id = "sip:bob@example.com", Acct-Session-Time = 61, ` +
        `Acct-Input-Octets = 123456, Acct-Output-Octets = 654321, Acct-Terminate-Cause = User-Request, Event-Timestamp = 1796600000\n`,
    );
  writeFileSync(file, lines.join("\n"));
  const t1 = performance.now();
  const status = await new Promise((resolve, reject) => {
    const child = spawn("radclient", ["-q", "-p", "256", "-r", "3", "-t", "2", "-f", file, `127.0.0.1:${acctPort}`, "acct", SECRET], { stdio: "inherit" });
    child.on("error", reject);
    child.on("exit", resolve);
  });
  const radclient = records / ((performance.now() - t1) / 1000);
  if (status !== 0) throw new Error(`radclient exited ${status}`);
  // the exporter: spool, send, answer, all of it
  const exporter = await AccountingExporter.open({ spoolPath: join(dir, "bench.spool"), servers: [{ address: "127.0.0.1", port: acctPort }], secret: SECRET, bindAddress: "127.0.0.1" });
  const now = Date.now();
  const spooled = Array.from({ length: records }, (_, i) => ({
    key: `ex-${i};caller|Stop`, sessionId: `ex-${i};caller`, status: "Stop", eventMs: now,
    // the attributes of stopAttributes(i), by dictionary name, as the spool holds them
    attributes: [
      ["Acct-Status-Type", "Stop"], ["Acct-Session-Id", `ex-${i};caller`], ["User-Name", "alice@example.com"], ["NAS-IP-Address", "127.0.0.1"],
      ["Calling-Station-Id", "sip:alice@example.com"], ["Called-Station-Id", "sip:bob@example.com"], ["Acct-Session-Time", 61],
      ["Acct-Input-Octets", 123456], ["Acct-Output-Octets", 654321], ["Acct-Terminate-Cause", "User-Request"], ["Event-Timestamp", 1_796_600_000],
    ],
  }));
  const t2 = performance.now();
  exporter.submit(spooled);
  const drained = await exporter.drained(120_000);
  const exporterRate = records / ((performance.now() - t2) / 1000);
  await exporter.close();
  if (!drained) throw new Error("the exporter did not get every record answered within 120 s");
  const detailText = readFileSync(lab.detailFile, "utf8");
  const detail = (detailText.match(/Acct-Status-Type = Stop/g) ?? []).length;
  const sessions = detailText.match(/Acct-Session-Id = "[^"]*"/g) ?? [];
  const duplicates = { ours: sessions.length - new Set(sessions).size };
  duplicates.radclient = sessions.filter((s) => s.includes('"rc-')).length - new Set(sessions.filter((s) => s.includes('"rc-'))).size;
  duplicates.exporter = sessions.filter((s) => s.includes('"ex-')).length - new Set(sessions.filter((s) => s.includes('"ex-'))).size;
  duplicates.ours -= duplicates.radclient + duplicates.exporter;
  console.log(`ours                   ${Math.round(ours).toLocaleString("en")} records/s`);
  console.log(`radclient              ${Math.round(radclient).toLocaleString("en")} records/s`);
  console.log(`exporter (spooled)     ${Math.round(exporterRate).toLocaleString("en")} records/s`);
  console.log(`detail file            ${detail} Stop records (expected ${3 * records}); duplicated: ours ${duplicates.ours}, radclient ${duplicates.radclient}, exporter ${duplicates.exporter}`);
  console.log(JSON.stringify({ ours_per_s: Math.round(ours), radclient_per_s: Math.round(radclient), ...codec, exporter_per_s: Math.round(exporterRate), records, detail_records: detail, detail_duplicates_ours: duplicates.ours, detail_duplicates_radclient: duplicates.radclient, detail_duplicates_exporter: duplicates.exporter }));
} finally {
  await lab.stop();
  if (process.env.RADIUS_BENCH_KEEP) console.error(`kept ${dir}`);
  else rmSync(dir, { recursive: true, force: true });
}
