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
function rate(fn, ms) {
  const end = performance.now() + ms;
  let n = 0;
  let t0 = performance.now();
  while (performance.now() < end) {
    for (let i = 0; i < 500; i++) sink += fn();
    n += 500;
  }
  return n / ((performance.now() - t0) / 1000);
}

v8.setFlagsFromString("--expose_gc");
const gc = vm.runInNewContext("gc");
/** Bytes allocated per call: heap growth over a short burst with no GC in between (max over samples). */
function bytesPerCall(fn) {
  let best = 0;
  for (let s = 0; s < 25; s++) {
    gc();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < 20; i++) sink += fn();
    const grown = (process.memoryUsage().heapUsed - before) / 20;
    if (grown > best) best = grown;
  }
  return Math.round(best);
}

const checks = { ours: ours(), sip: npmSip(), sipjs: sipJs() };
if (new Set(Object.values(checks)).size !== 1) throw new Error(`parsers disagree on the fields: ${JSON.stringify(checks)}`);

// ours and npm sip alternate in short rounds (same conditions for both); sip.js, whose garbage would
// disturb the others' rounds, is measured after them.
for (const f of [ours, npmSip, serialize]) rate(f, 300); // warm-up
const rounds = { ours: [], sip: [], sipjs: [], serialize: [] };
for (let r = 0; r < 15; r++) {
  rounds.ours.push(rate(ours, 200));
  rounds.sip.push(rate(npmSip, 200));
  if (r % 3 === 0) rounds.serialize.push(rate(serialize, 200));
}
const bytes = { ours: bytesPerCall(ours), sip: bytesPerCall(npmSip) };
rate(sipJs, 300);
for (let r = 0; r < 5; r++) rounds.sipjs.push(rate(sipJs, 300));
bytes.sipjs = bytesPerCall(sipJs);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
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
result.ratio_vs_sip = Number((result.ours_per_s / result.sip_per_s).toFixed(2));
result.ratio_vs_sipjs = Number((result.ours_per_s / result.sipjs_per_s).toFixed(2));
// per-round ratios show how steady the machine was
const roundRatios = rounds.ours.map((o, i) => (o / rounds.sip[i]).toFixed(2));
console.log(`per-round ours/sip ratios: ${roundRatios.join(" ")}`);
console.log(`message: ${INVITE.length} bytes; rates are medians of interleaved rounds (checksum ${sink > 0 ? "ok" : "?"})`);
console.log(JSON.stringify(result));
