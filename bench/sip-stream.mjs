// SIP over a stream, as the socket driver receives it: a TCP byte stream of INVITEs (with SDP) and responses cut
// into 1,400-byte segments. "framed": SipStreamFramer cuts each message's own bytes and the receiver parses each
// once (the driver's path). "reserialised": a stream parser's messages serialised back to bytes for the receiver
// to parse again (what a driver framing with SipStreamParser does). Interleaved rounds; medians.
// Run: node bench/sip-stream.mjs [--quick]. Last line: one JSON object with the figures.
import { SipStreamFramer, SipStreamParser, parseSipMessage, serializeSipMessage } from "../dist/protocols/sip/index.js";

const quick = process.argv.includes("--quick");
const SDP = "v=0\r\no=alice 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\nm=audio 49170 RTP/AVP 0 8\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n";
const invite = (i) =>
  `INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:5071;branch=z9hG4bK${i};rport\r\nMax-Forwards: 70\r\nTo: <sip:bob@example.com>\r\nFrom: "Alice" <sip:alice@example.com>;tag=${i}\r\nCall-ID: call-${i}@192.0.2.10\r\nCSeq: 1 INVITE\r\nContact: <sip:alice@127.0.0.1:5071;transport=tcp>\r\nRecord-Route: <sip:127.0.0.1:5071;transport=tcp;lr>\r\nContent-Type: application/sdp\r\nContent-Length: ${SDP.length}\r\n\r\n${SDP}`;
const ok = (i) =>
  `SIP/2.0 200 OK\r\nVia: SIP/2.0/TCP 127.0.0.1:5071;branch=z9hG4bK${i};rport=40000;received=127.0.0.1\r\nTo: <sip:bob@example.com>;tag=b${i}\r\nFrom: "Alice" <sip:alice@example.com>;tag=${i}\r\nCall-ID: call-${i}@192.0.2.10\r\nCSeq: 1 INVITE\r\nContact: <sip:bob@127.0.0.1:5072;transport=tcp>\r\nContent-Length: 0\r\n\r\n`;
const MESSAGES = 2000;
const stream = Buffer.from(Array.from({ length: MESSAGES / 2 }, (_, i) => invite(i) + ok(i)).join(""));
const segments = [];
for (let at = 0; at < stream.length; at += 1400) segments.push(stream.subarray(at, at + 1400));

let sink = 0;
function framed() {
  const framer = new SipStreamFramer();
  for (const s of segments) for (const f of framer.push(s)) sink += parseSipMessage(f).callId.length;
}
function reserialised() {
  const parser = new SipStreamParser();
  for (const s of segments) for (const m of parser.push(s)) sink += parseSipMessage(serializeSipMessage(m)).callId.length;
}
function rate(fn, ms) {
  const t0 = performance.now();
  let n = 0;
  while (performance.now() - t0 < ms) {
    fn();
    n += MESSAGES;
  }
  return n / ((performance.now() - t0) / 1000);
}
const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
for (let i = 0; i < 3; i++) {
  framed(); // warm-up
  reserialised();
}
const rounds = quick ? 5 : 15;
const r = { framed: [], reserialised: [], ratio: [] };
for (let i = 0; i < rounds; i++) {
  const a = rate(framed, 200);
  const b = rate(reserialised, 200);
  r.framed.push(a);
  r.reserialised.push(b);
  r.ratio.push(a / b);
}
const result = {
  framed_msgs_per_s: Math.round(median(r.framed)),
  reserialised_msgs_per_s: Math.round(median(r.reserialised)),
  ratio_framed_vs_reserialised: Number(median(r.ratio).toFixed(2)),
  stream_bytes: stream.length,
  messages: MESSAGES,
};
console.log(`${MESSAGES} messages, ${stream.length} bytes in ${segments.length} segments; ${rounds} interleaved rounds (checksum ${sink > 0 ? "ok" : "?"})`);
console.log(JSON.stringify(result));
