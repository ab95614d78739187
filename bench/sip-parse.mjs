// SIP parse benchmark: ours vs npm `sip` vs sip.js, in one process, on a ~750-byte INVITE with SDP.
// Each parser does a full structured parse of Via, From, To, CSeq, Call-ID, Contact, Max-Forwards,
// Content-Length and of the four URIs (Request-URI, From, To, Contact). Run: npm run bench:sip
// Last line: one JSON object with the figures.
import v8 from "node:v8";
import vm from "node:vm";
import sip from "sip";
import { Parser } from "sip.js/lib/core/messages/parser.js";
import { LoggerFactory } from "sip.js/lib/core/log/logger-factory.js";
import { parseSipMessage, serializeSipMessage } from "../dist/protocols/sip/index.js";

const SDP = [
  "v=0",
  "o=alice 2890844526 2890844526 IN IP4 192.0.2.10",
  "s=-",
  "c=IN IP4 192.0.2.10",
  "t=0 0",
  "m=audio 49170 RTP/AVP 0 8 97",
  "a=rtpmap:0 PCMU/8000",
  "a=rtpmap:8 PCMA/8000",
  "a=rtpmap:97 iLBC/8000",
  "a=fmtp:97 mode=30",
  "a=ptime:20",
  "a=sendrecv",
  "",
].join("\r\n");

const INVITE = Buffer.from(
  [
    "INVITE sip:bob@example.com SIP/2.0",
    "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds;rport",
    "Max-Forwards: 70",
    "To: Bob <sip:bob@example.com>",
    'From: "Alice" <sip:alice@example.com>;tag=1928301774',
    "Call-ID: a84b4c76e66710@192.0.2.10",
    "CSeq: 314159 INVITE",
    "Contact: <sip:alice@192.0.2.10:5060;transport=udp>",
    "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE",
    "Supported: replaces, timer",
    "User-Agent: callgate-bench/1.0",
    "Subject: benchmark call",
    "Content-Type: application/sdp",
    `Content-Length: ${Buffer.byteLength(SDP)}`,
    "",
    SDP,
  ].join("\r\n"),
);

// ---- the three workloads -----------------------------------------------------------------------------
function ours() {
  const m = parseSipMessage(INVITE);
  const via = m.via;
  const from = m.from;
  const to = m.to;
  const contact = m.contact;
  return via[0].branch.length + from.tag.length + (to.tag === undefined ? 1 : 0) + m.cseq.seq + m.callId.length +
    contact[0].uri.host.length + m.maxForwards + m.contentLength + m.requestUri.user.length + from.uri.user.length + to.uri.user.length;
}

function npmSip() {
  const m = sip.parse(INVITE);
  const h = m.headers;
  const ruri = sip.parseUri(m.uri);
  const from = sip.parseUri(h.from.uri);
  const to = sip.parseUri(h.to.uri);
  const contact = sip.parseUri(h.contact[0].uri);
  return h.via[0].params.branch.length + h.from.params.tag.length + (h.to.params.tag === undefined ? 1 : 0) + h.cseq.seq +
    h["call-id"].length + contact.host.length + +h["max-forwards"] + h["content-length"] + ruri.user.length + from.user.length + to.user.length;
}

const logger = new LoggerFactory().getLogger("bench");
logger.level = 0;
function sipJs() {
  const m = Parser.parseMessage(INVITE.toString("utf8"), logger);
  const contact = m.parseHeader("contact");
  return m.via.branch.length + m.fromTag.length + (m.toTag === undefined ? 1 : 0) + m.cseq + m.callId.length +
    contact.uri.host.length + Number(m.getHeader("max-forwards")) + Number(m.getHeader("content-length")) +
    m.ruri.user.length + m.from.uri.user.length + m.to.uri.user.length;
}

const parsed = parseSipMessage(INVITE);
function serialize() {
  return serializeSipMessage(parsed).length;
}

// ---- harness -----------------------------------------------------------------------------------------
let sink = 0;
/** Milliseconds for `iters` calls. */
function timeBatch(fn, iters) {
  const t0 = performance.now();
  for (let i = 0; i < iters; i++) sink += fn();
  return performance.now() - t0;
}
/** Calls per second over about `ms` milliseconds (for warm-up and the slow sip.js). */
function rate(fn, ms) {
  const end = performance.now() + ms;
  let n = 0;
  const t0 = performance.now();
  while (performance.now() < end) {
    for (let i = 0; i < 100; i++) sink += fn();
    n += 100;
  }
  return n / ((performance.now() - t0) / 1000);
}
/** Iterations that take about `ms` milliseconds. */
function itersFor(fn, ms) {
  const perCall = 1 / rate(fn, 100);
  return Math.max(50, Math.round(ms / 1000 / perCall));
}

v8.setFlagsFromString("--expose_gc");
const gc = vm.runInNewContext("gc");
/**
 * Bytes allocated per call: heap growth over a short burst after a full GC, median over samples (a
 * sample can also hold compiler or IC allocations, or lose bytes to a scavenge; the median ignores both).
 */
function bytesPerCall(fn, burst) {
  const samples = [];
  for (let s = 0; s < 31; s++) {
    gc();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < burst; i++) sink += fn();
    samples.push((process.memoryUsage().heapUsed - before) / burst);
  }
  samples.sort((a, b) => a - b);
  return Math.round(samples[samples.length >> 1]);
}

const checks = { ours: ours(), sip: npmSip(), sipjs: sipJs() };
if (new Set(Object.values(checks)).size !== 1) throw new Error(`parsers disagree on the fields: ${JSON.stringify(checks)}`);

// ours and npm sip run in pairs of short batches (about 25 ms each), the order alternating from pair to
// pair (ABBA), so both see the same machine load; each pair gives one ratio and the figures are medians
// over all pairs (a pair disturbed by another process is an outlier the median ignores). sip.js, whose
// garbage would disturb the others' rounds, is measured after them.
for (const f of [ours, npmSip, serialize]) rate(f, 400); // warm-up (optimizing compiler)
const PAIRS = Number(process.env.SIP_BENCH_PAIRS ?? 120);
const itersOurs = itersFor(ours, 25);
const itersSip = itersFor(npmSip, 25);
const itersSer = itersFor(serialize, 25);
const rounds = { ours: [], sip: [], sipjs: [], serialize: [], ratio: [] };
for (let r = 0; r < PAIRS; r++) {
  let tOurs;
  let tSip;
  if (r % 2 === 0) {
    tOurs = timeBatch(ours, itersOurs);
    tSip = timeBatch(npmSip, itersSip);
  } else {
    tSip = timeBatch(npmSip, itersSip);
    tOurs = timeBatch(ours, itersOurs);
  }
  const oursRate = itersOurs / (tOurs / 1000);
  const sipRate = itersSip / (tSip / 1000);
  rounds.ours.push(oursRate);
  rounds.sip.push(sipRate);
  rounds.ratio.push(oursRate / sipRate);
  if (r % 4 === 0) rounds.serialize.push(itersSer / (timeBatch(serialize, itersSer) / 1000));
}
// bursts small enough (~0.5 MB) not to trigger a scavenge
const bytes = { ours: bytesPerCall(ours, 50), sip: bytesPerCall(npmSip, 20) };
rate(sipJs, 300);
for (let r = 0; r < 7; r++) rounds.sipjs.push(rate(sipJs, 250));
bytes.sipjs = bytesPerCall(sipJs, 2);
const quantile = (xs, q) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * q))];
const median = (xs) => quantile(xs, 0.5);
const result = {
  message_bytes: INVITE.length,
  ours_per_s: Math.round(median(rounds.ours)),
  sip_per_s: Math.round(median(rounds.sip)),
  sipjs_per_s: Math.round(median(rounds.sipjs)),
  ratio_vs_sip: 0,
  ratio_vs_sipjs: 0,
  serialize_per_s: Math.round(median(rounds.serialize)),
  bytes_per_parse: bytes.ours,
  sip_bytes_per_parse: bytes.sip,
  sipjs_bytes_per_parse: bytes.sipjs,
  node: process.version,
};
result.ratio_vs_sip = Number(median(rounds.ratio).toFixed(2));
result.ratio_vs_sip_p25 = Number(quantile(rounds.ratio, 0.25).toFixed(2));
result.ratio_vs_sip_p75 = Number(quantile(rounds.ratio, 0.75).toFixed(2));
result.pairs = PAIRS;
result.ratio_vs_sipjs = Number((result.ours_per_s / result.sipjs_per_s).toFixed(2));
// the spread of the per-pair ratios shows how steady the machine was
console.log(`ours/sip per pair: min ${quantile(rounds.ratio, 0).toFixed(2)} p25 ${result.ratio_vs_sip_p25} median ${result.ratio_vs_sip} p75 ${result.ratio_vs_sip_p75} max ${quantile(rounds.ratio, 1).toFixed(2)} over ${PAIRS} pairs`);
console.log(`message: ${INVITE.length} bytes; rates are medians of interleaved batches (checksum ${sink > 0 ? "ok" : "?"})`);
console.log(JSON.stringify(result));
