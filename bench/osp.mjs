// OSP benchmark: AuthorisationRequest → AuthorisationResponse round trips per second over loopback HTTP
// keep-alive against the clearinghouse, codec decode/encode rates, and signed token rates per key type
// (Ed25519, ECDSA P-256, RSA-2048): whole tokens made (TokenInfo + CMS SignedData) and validated (signature, cached
// chain, TokenInfo, window, binding, single use), and the bare node:crypto signature operations beneath.
// Run after `npm run build`.
// Last line: {"auth_rtt_per_s":…, "decode_per_s":…, "encode_per_s":…, "token_sign_ed25519_per_s":…, …}
// BENCH_TOKENS_ONLY=1 skips the codec and HTTP parts.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createPrivateKey, createPublicKey, sign, verify } from "node:crypto";
import {
  OspClient,
  OspTokenValidator,
  authorisationRequest,
  createOspToken,
  decodeOspMessage,
  encodeOspMessage,
  generateOspPki,
} from "../dist/protocols/osp/index.js";
import { Clearinghouse } from "../dist/lib/roles/clearinghouse.js";
import { startClearinghouseServer } from "../dist/lib/roles/clearinghouse-server.js";
import { MemoryCdrStore } from "../dist/lib/adapters/cdr-store-memory.js";

const seconds = Number(process.env.BENCH_SECONDS ?? 3);
const golden = (name) => readFileSync(join(process.cwd(), "test/protocols/osp/golden", name));
const corpus = ["authorization-request.xml", "authorization-response.xml", "usage-indication.xml", "usage-confirmation.xml"].map(golden);

function rate(label, fn, warmUp = 2000) {
  // warm up, then count calls in the time window
  for (let i = 0; i < warmUp; i++) fn(i);
  let n = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  while (performance.now() < end) {
    for (let i = 0; i < 200; i++) fn(n + i);
    n += 200;
  }
  const perS = Math.round(n / ((performance.now() - start) / 1000));
  console.log(`${label}: ${perS}/s`);
  return perS;
}

const tokensOnly = process.env.BENCH_TOKENS_ONLY === "1";
const decodePerS = tokensOnly ? undefined : rate("decode (mixed AuthReq/AuthRsp/UsageInd/UsageCnf)", (i) => decodeOspMessage(corpus[i % corpus.length]));
const models = corpus.map((b) => decodeOspMessage(b));
const encodePerS = tokensOnly ? undefined : rate("encode (same messages)", (i) => encodeOspMessage(models[i % models.length]));

const tokenNow = Date.UTC(2026, 0, 15, 12, 0, 0);
const tokenInfo = (i) => ({
  sourceInfo: [{ type: "e164", value: "14045266060" }],
  destinationInfo: [{ type: "e164", value: "14043342535" }, { type: "transport", value: "[192.0.2.20]:5060" }],
  callId: Buffer.from(`bench-${i}@192.0.2.10`),
  validAfter: tokenNow,
  validUntil: tokenNow + 300_000,
  transactionId: String(i),
  usageDetail: { service: {}, amount: 3600, increment: 1, unit: "s" },
});
const tokenRates = {};
for (const [label, keyType] of [["ed25519", "ed25519"], ["p256", "p256"], ["rsa2048", "rsa"]]) {
  const pki = generateOspPki({ keyType, rsaBits: 2048 });
  const made = [];
  let serial = 0;
  const warmUp = keyType === "rsa" ? 200 : 2000;
  const signPerS = rate(`token sign ${label} (TokenInfo + CMS SignedData)`, () => {
    const i = serial++;
    const token = createOspToken(tokenInfo(i), pki.signer);
    if (made.length < 50_000) made.push([token, i]);
  }, warmUp);
  // Every token once (single use): the validator refuses a second sight as replayed.
  const validator = new OspTokenValidator({ caCertificatesPem: [pki.caCertificatePem] });
  const t = performance.now();
  for (const [token, i] of made) {
    const verdict = validator.validate(token, { callId: Buffer.from(`bench-${i}@192.0.2.10`), destination: "14043342535" }, tokenNow);
    if (!verdict.ok) throw new Error(`token refused: ${verdict.reason} ${verdict.detail}`);
  }
  const validatePerS = Math.round(made.length / ((performance.now() - t) / 1000));
  console.log(`token validate ${label} (${made.length} distinct tokens): ${validatePerS}/s`);
  const key = createPrivateKey(pki.signer.privateKeyPem);
  const publicKey = createPublicKey(pki.signer.certificatePem);
  const data = Buffer.alloc(200, 1);
  const digest = keyType === "ed25519" ? null : "sha256"; // PureEdDSA: no pre-hash (RFC 8032 §5.1)
  const signature = sign(digest, data, key);
  const rawSign = rate(`node:crypto sign ${label}`, () => sign(digest, data, key), warmUp);
  const rawVerify = rate(`node:crypto verify ${label}`, () => verify(digest, data, publicKey, signature));
  Object.assign(tokenRates, {
    [`token_sign_${label}_per_s`]: signPerS,
    [`token_validate_${label}_per_s`]: validatePerS,
    [`sig_sign_${label}_per_s`]: rawSign,
    [`sig_verify_${label}_per_s`]: rawVerify,
  });
}

if (tokensOnly) {
  console.log(JSON.stringify(tokenRates));
  process.exit(0);
}

const clearinghouse = new Clearinghouse({
  routes: [{ prefix: "1404", timeLimitSeconds: 3600, destinations: [{ address: "[192.0.2.20]:5060" }] }],
  store: new MemoryCdrStore(),
});
const server = await startClearinghouseServer(clearinghouse, { url: "http://127.0.0.1:0/osp" });
const client = new OspClient({ url: server.url, maxSockets: 8 });
const concurrency = 16;
let done = 0;
let seq = 0;
const deadline = performance.now() + seconds * 1000;
const t0 = performance.now();
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    while (performance.now() < deadline) {
      const id = `b${seq++}`;
      const rsp = await client.authorise(
        authorisationRequest({ messageId: id, nowMs: Date.now(), callId: Buffer.from(id), callingNumber: "14045266060", calledNumber: "14043342535" }),
      );
      if (rsp.status.code !== 200) throw new Error(`status ${rsp.status.code}`);
      done++;
    }
  }),
);
const authPerS = Math.round(done / ((performance.now() - t0) / 1000));
console.log(`AuthorisationRequest→Response over HTTP keep-alive (8 sockets, ${concurrency} in flight, unsigned tokens): ${authPerS}/s`);
await client.close();
await server.close();
console.log(JSON.stringify({ auth_rtt_per_s: authPerS, decode_per_s: decodePerS, encode_per_s: encodePerS, ...tokenRates }));
