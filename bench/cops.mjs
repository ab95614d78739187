// COPS codec throughput: encode and decode of a REQ AAA and a DEC AAA (client type 0x8cb1), against
// Buffer.copy of the same bytes as the physical bound; the COPS-PR Install decision of two flow classifiers
// (build + encode, decode + parse); a REQ AAA built, encoded, decoded and parsed as the proxy and policy server do.
// Run after `npm run build`: node bench/cops.mjs
// Last line: {"decode_per_s":…, "encode_per_s":…, "copy_per_s":…, "install_encode_per_s":…, "install_decode_per_s":…,
// "req_aaa_build_parse_per_s":…} (messages per second; REQ and DEC alternating for the first three).
import {
  buildInstallDecision,
  buildSipAaaDecision,
  buildSipAaaRequest,
  decodeCopsMessage,
  encodeAaaRequest,
  encodeCopsMessage,
  parseProvisioningDecision,
  parseSipAaaRequest,
} from "../dist/protocols/cops/index.js";

const handle = Buffer.from([0, 0, 0, 7]);
const info = {
  callId: "a84b4c76e66710@pc33.example.com",
  caller: "sip:alice@example.com",
  callee: "sip:bob@example.com",
  flows: [{ protocol: 17, family: 4, srcAddress: "192.0.2.10", srcPort: 49170, dstAddress: "192.0.2.20", dstPort: 3456, codec: "PCMU/8000", bandwidthBps: 64000 }],
  requestedClass: "EF",
  ospToken: Buffer.alloc(200, 0x41),
};
const req = buildSipAaaRequest("AAA", handle, info);
// The two classifiers (one per direction) a policy server installs in its edge router for a call (RFC 3084 §3.3).
const marks = [
  { instanceId: 1001, family: 4, protocol: 17, srcAddress: "192.0.2.10", srcPort: 49170, dstAddress: "192.0.2.20", dstPort: 3456, dscp: 46 },
  { instanceId: 1002, family: 4, protocol: 17, srcAddress: "192.0.2.20", srcPort: 3456, dstAddress: "192.0.2.10", dstPort: 49170, dscp: 46 },
];
const installWire = encodeCopsMessage(buildInstallDecision(handle, marks));
const dec = buildSipAaaDecision("AAA", handle, true, { token: Buffer.alloc(200, 0x42), timeLimitSeconds: 3600, dscp: 46 });
const models = [req, dec];
const wire = models.map((m) => encodeCopsMessage(m));
const target = Buffer.alloc(Math.max(...wire.map((b) => b.length)));
const seconds = Number(process.env.BENCH_SECONDS ?? 1);

function rate(name, fn) {
  for (let i = 0; i < 20_000; i++) fn(i); // warm-up
  let n = 0;
  const start = process.hrtime.bigint();
  const budget = BigInt(Math.round(seconds * 1e9));
  let elapsed = 0n;
  while (elapsed < budget) {
    for (let k = 0; k < 10_000; k++) fn(n++);
    elapsed = process.hrtime.bigint() - start;
  }
  const perSecond = Math.round(n / (Number(elapsed) / 1e9));
  console.log(`${name.padEnd(20)} ${perSecond.toLocaleString("en-US").padStart(14)} msg/s`);
  return perSecond;
}

let sink = 0;
console.log(`REQ AAA ${wire[0].length} octets, DEC AAA ${wire[1].length} octets`);
const decode = rate("decode", (i) => {
  sink += decodeCopsMessage(wire[i & 1]).clientType;
});
const encode = rate("encode", (i) => {
  sink += encodeCopsMessage(models[i & 1]).length;
});
const copy = rate("copy", (i) => {
  sink += wire[i & 1].copy(target, 0);
});
console.log(`DEC Install ${installWire.length} octets (2 flow classifiers)`);
const installEncode = rate("install encode", () => {
  sink += encodeCopsMessage(buildInstallDecision(handle, marks)).length;
});
const installDecode = rate("install decode", () => {
  sink += parseProvisioningDecision(decodeCopsMessage(installWire)).install.length;
});
const reqBuildParse = rate("REQ AAA build+parse", () => {
  sink += parseSipAaaRequest(decodeCopsMessage(encodeAaaRequest(handle, info))).info.flows.length;
});
if (sink === 42) console.log("");
console.log(
  JSON.stringify({
    decode_per_s: decode,
    encode_per_s: encode,
    copy_per_s: copy,
    install_encode_per_s: installEncode,
    install_decode_per_s: installDecode,
    req_aaa_build_parse_per_s: reqBuildParse,
  }),
);
